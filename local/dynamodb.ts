import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { projectionOf, TABLE } from '../lib/adapters/dynamodb/table.js';
import { repairIndexes } from './dynamodb-repair.js';
import { addTransactWriteItems, INTERNAL_HEADER } from './dynamodb-transactions.js';
import { closeServer, listen, urlFor } from './http-util.js';
import { checkLevelDb } from './leveldb-check.js';
import { acquirePidLock } from './lock.js';

export interface LocalDynamoDb {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite (DynamoDB's API over LevelDB) on `${dataDir}/dynamodb`, so tables and items
 * survive a restart. LevelDB locks its directory: one process per data directory.
 *
 * A damaged directory is refused ({@link LocalDataDamagedError}) before dynalite opens it: LevelDB would drop
 * what it cannot read without a word and delete the damaged files, starting the stack on an empty table. Nothing
 * is repaired or moved automatically; the message says how to start afresh, and the files stay as they are.
 */
export async function startLocalDynamoDb(opts: {
  dataDir: string;
  port?: number;
  host?: string;
  /** Told every API call's operation (`GetItem`, `UpdateItem`, …) as it arrives: bench/metering.ts. */
  onRequest?: (operation: string) => void;
}): Promise<LocalDynamoDb> {
  const host = opts.host ?? '127.0.0.1';
  const path = join(opts.dataDir, 'dynamodb');
  await mkdir(path, { recursive: true });
  const lock = await acquirePidLock(join(opts.dataDir, 'dynamodb.lock'), `DynamoDB data in ${path}`);
  try {
    const damage = await checkLevelDb(path);
    if (damage !== undefined) throw new LocalDataDamagedError(opts.dataDir, path, damage.file, damage.reason);
    // The last process died holding the directory: a write it was making may have reached an index and not
    // its item (dynalite is not atomic there). The items are the truth; the indexes are rebuilt from them.
    if (lock.takenOver) {
      const { written, deleted } = await repairIndexes(path);
      if (written + deleted > 0) {
        console.error(`DynamoDB data in ${path}: rebuilt ${written + deleted} index entries a killed process left`);
      }
    }
    // Tables become ACTIVE at once: nothing locally waits on CREATING like CloudFormation does.
    const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    addTransactWriteItems(server);
    const { onRequest } = opts;
    if (onRequest !== undefined) {
      // X-Amz-Target is `DynamoDB_20120810.<Operation>`. The transactions front's own calls to dynalite (it applies
      // writes through it) are not the client's.
      server.prependListener('request', (req) => {
        if (req.headers[INTERNAL_HEADER] !== undefined) return;
        onRequest(
          String(req.headers['x-amz-target'] ?? '')
            .split('.')
            .at(-1) ?? '',
        );
      });
    }
    const { port } = await listen(server, opts.port ?? 0, host);
    return {
      endpoint: urlFor(host, port),
      close: async () => {
        try {
          // dynalite's close also closes LevelDB (releasing its directory lock) once requests drain.
          await closeServer(server);
        } finally {
          await lock.release();
        }
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/** The local table's files are damaged: the stack does not start on them (see {@link startLocalDynamoDb}). */
export class LocalDataDamagedError extends Error {
  override readonly name = 'LocalDataDamagedError';
  constructor(
    readonly dataDir: string,
    readonly directory: string,
    readonly file: string,
    readonly reason: string,
  ) {
    super(
      `The local DynamoDB data in ${directory} is damaged: ${file} ${reason}. ` +
        'The stack does not start on it: LevelDB would silently drop what it cannot read (and the damaged files ' +
        'with it), leaving the table empty. Nothing was changed. To start afresh, move the data directory aside ' +
        `(mv ${dataDir} ${dataDir}.damaged) or delete it (DATA_DIR, default .local); the next start seeds a new ` +
        'demo. Keep the moved copy if you need what is still readable in it.',
    );
  }
}

/**
 * Creates the table from the shared key schema (lib/adapters/dynamodb/table.ts) unless it exists.
 * TTL is not enabled: dynalite has no UpdateTimeToLive, and it would not expire items anyway.
 */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  // Two indexes may share key attributes (gsi1 and list): each is defined once.
  const keyNames = [
    ...new Set([TABLE.partitionKey, TABLE.sortKey, ...TABLE.indexes.flatMap((i) => [i.partitionKey, i.sortKey])]),
  ];
  const attributeDefinitions: AttributeDefinition[] = keyNames.map((name) => ({
    AttributeName: name,
    AttributeType: 'S',
  }));
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: attributeDefinitions,
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: TABLE.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: projectionOf(index.projection),
      })),
    }),
  );
  // createTableMs is 0, but the status flips on a timer: wait until the table is usable.
  for (let attempt = 0; attempt < 100; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`Table ${tableName} did not become ACTIVE`);
}
