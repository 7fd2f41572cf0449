import { createRequire } from 'node:module';

/**
 * dynalite writes an item's secondary-index entries and then the item, as separate LevelDB writes
 * (db/index.js `updateIndexes`, then `itemDb.put`), where DynamoDB applies an item and its index entries as one.
 * A process killed in between leaves an index that disagrees with its table: fault tests saw a job IN_PROGRESS
 * whose `UNFINISHED` entry was already gone, so the re-drive (which reads that index) never saw it again.
 *
 * After an unclean stop the items are the truth (each was written whole, or not at all): every index is
 * rebuilt from them before dynalite opens the directory, with dynalite's own index code, so that a Query
 * answers as DynamoDB would have. One pass over the items (a point read of each index entry they should
 * have, rewritten if missing or stale), one over the index entries (deleting those no item has). Memory holds
 * the index keys only (about 100 bytes per item and index).
 */

// dynalite's own modules, so that keys and projections are computed exactly as it computes them.
const requireFromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
const { Level } = requireFromDynalite('level') as { Level: new (path: string, options: object) => LevelDb };
const dynaliteDb = requireFromDynalite('./db/index.js') as {
  getIndexActions(
    indexes: unknown[],
    existingItem: unknown,
    item: unknown,
    table: unknown,
  ): { puts: { index: string; key: string; item: unknown }[] };
};

interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
  get(key: string): Promise<unknown>;
  put(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  iterator(options: { gte: string; lt: string }): AsyncIterable<[string, unknown]>;
}

interface TableDescription {
  TableName: string;
  GlobalSecondaryIndexes?: { IndexName: string }[];
  LocalSecondaryIndexes?: { IndexName: string }[];
}

export interface RepairReport {
  /** Index entries written (missing or stale). */
  written: number;
  /** Index entries deleted (no item has them). */
  deleted: number;
}

const range = (prefix: string) => ({ gte: prefix, lt: `${prefix}\xff` });

/** Rebuilds every secondary index of every table in the dynalite directory `path` from its items. */
export async function repairIndexes(path: string): Promise<RepairReport> {
  const db = new Level(path, { valueEncoding: 'json' });
  await db.open();
  const report = { written: 0, deleted: 0 };
  try {
    const tables: TableDescription[] = [];
    for await (const [, table] of db.iterator(range('table~'))) tables.push(table as TableDescription);
    for (const table of tables) {
      for (const [kind, indexes] of [
        ['global', table.GlobalSecondaryIndexes ?? []],
        ['local', table.LocalSecondaryIndexes ?? []],
      ] as const) {
        if (indexes.length === 0) continue;
        const prefixOf = (index: string) => `index-${kind}~${table.TableName}~${index}~`;
        const wanted = new Map(indexes.map((index) => [index.IndexName, new Set<string>()]));
        for await (const [, item] of db.iterator(range(`item-${table.TableName}~`))) {
          for (const put of dynaliteDb.getIndexActions(indexes, null, item, table).puts) {
            wanted.get(put.index)?.add(put.key);
            const key = prefixOf(put.index) + put.key;
            const existing = await db.get(key);
            if (existing === undefined || JSON.stringify(existing) !== JSON.stringify(put.item)) {
              await db.put(key, put.item);
              report.written++;
            }
          }
        }
        for (const [index, keys] of wanted) {
          const prefix = prefixOf(index);
          for await (const [key] of db.iterator(range(prefix))) {
            if (!keys.has(key.slice(prefix.length))) {
              await db.del(key);
              report.deleted++;
            }
          }
        }
      }
    }
  } finally {
    await db.close();
  }
  return report;
}
