import { randomBytes } from 'node:crypto';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * TransactWriteItems for dynalite, which has none (PLATFORM.md), so that the service's transactional writes
 * (a list entry and its count, lib/adapters/dynamodb/list-counts.ts) run here as on AWS.
 *
 * Wrapped around dynalite's own request handler: a transaction holds an exclusive lock while it applies its
 * writes one by one through dynalite (each conditional as asked, each returning the item it replaced); every
 * other request holds a shared lock while dynalite answers it. So no request sees a transaction half done.
 * When a write's condition fails, the writes before it are undone from the images they returned, and the
 * answer is AWS's `TransactionCanceledException` with a reason per item (here: the first failing item only,
 * AWS names every failing one). A ConditionCheck is a conditional no-op UpdateItem, undone likewise.
 * Also as on AWS: at most 100 items, no item twice, and `ClientRequestToken` idempotency (the same request
 * again within 10 minutes is answered without being applied again; another request with the same token
 * is refused with `IdempotentParameterMismatchException`).
 *
 * Not as on AWS: a process killed in the middle of a transaction leaves the writes done so far (dynalite is
 * not crash-atomic for single writes either, PLATFORM.md), and there is no TransactGetItems.
 *
 * Single-item writes pass through here too, for `ReturnValuesOnConditionCheckFailure: ALL_OLD` (dynalite ignores
 * it): a failed condition answers the item as it was, in the error's `Item`, as DynamoDB does.
 */
export function addTransactWriteItems(server: Server): void {
  const [dynalite] = server.listeners('request') as RequestListener[];
  if (dynalite === undefined) throw new Error('dynalite has no request handler');
  server.removeAllListeners('request');
  const internal = randomBytes(16).toString('hex');
  const lock = new ReadWriteLock();
  const tokens = new Map<string, { fingerprint: string; at: number }>();
  const keySchemas = new Map<string, string[]>();

  const call = async (operation: string, input: unknown): Promise<{ status: number; body: Json }> => {
    const { port, address, family } = server.address() as AddressInfo;
    const host = family === 'IPv6' ? `[${address}]` : address;
    const response = await fetch(`http://${host}:${port}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation}`,
        'x-amz-date': '20200101T000000Z',
        authorization:
          'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        [INTERNAL_HEADER]: internal,
      },
      body: JSON.stringify(input),
    });
    return { status: response.status, body: (await response.json()) as Json };
  };

  const keyOf = async (tableName: string, item: Json): Promise<Json> => {
    let schema = keySchemas.get(tableName);
    if (schema === undefined) {
      const described = await call('DescribeTable', { TableName: tableName });
      if (described.status !== 200) throw new ApiFailure(described.status, described.body);
      const table = described.body.Table as { KeySchema: { AttributeName: string }[] };
      schema = table.KeySchema.map((key) => key.AttributeName);
      keySchemas.set(tableName, schema);
    }
    return Object.fromEntries(schema.map((name) => [name, item[name]]));
  };

  const transact = async (request: Json): Promise<{ status: number; body: Json }> => {
    const items = request.TransactItems;
    if (!Array.isArray(items) || items.length < 1 || items.length > 100) {
      return validation('TransactItems must have between 1 and 100 items');
    }
    const actions: Action[] = [];
    for (const entry of items as Json[]) {
      const kinds = Object.keys(entry).filter((k) => ['Put', 'Update', 'Delete', 'ConditionCheck'].includes(k));
      const kind = kinds[0] as Action['kind'] | undefined;
      if (kinds.length !== 1 || kind === undefined) return validation('Each transact item must have one action');
      const input = entry[kind] as Json;
      const tableName = String(input.TableName);
      const key = kind === 'Put' ? await keyOf(tableName, input.Item as Json) : (input.Key as Json);
      actions.push({ kind, input, tableName, key, id: `${tableName}\u0000${JSON.stringify(key)}` });
    }
    if (new Set(actions.map((a) => a.id)).size !== actions.length) {
      return validation('Transaction request cannot include multiple operations on one item');
    }
    const token = typeof request.ClientRequestToken === 'string' ? request.ClientRequestToken : undefined;
    const fingerprint = JSON.stringify(items);
    const now = Date.now();
    for (const [old, seen] of tokens) if (now - seen.at > TOKEN_WINDOW_MS) tokens.delete(old);
    const seen = token === undefined ? undefined : tokens.get(token);
    if (seen !== undefined) {
      if (seen.fingerprint === fingerprint) return { status: 200, body: {} };
      return error(
        'IdempotentParameterMismatchException',
        'The request uses the same client token as a previous, but non-identical request',
      );
    }

    const done: { action: Action; old: Json | undefined }[] = [];
    const undo = async () => {
      for (const { action, old } of done.reverse()) {
        const restored =
          old === undefined
            ? await call('DeleteItem', { TableName: action.tableName, Key: action.key })
            : await call('PutItem', { TableName: action.tableName, Item: old });
        if (restored.status !== 200) throw new ApiFailure(restored.status, restored.body);
      }
    };
    for (const [index, action] of actions.entries()) {
      const result = await call(...apply(action));
      if (result.status === 200) {
        done.push({ action, old: result.body.Attributes as Json | undefined });
        continue;
      }
      await undo();
      if (!String(result.body.__type).endsWith('#ConditionalCheckFailedException')) return result;
      let item: Json | undefined;
      if (action.input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD') {
        const current = await call('GetItem', { TableName: action.tableName, Key: action.key, ConsistentRead: true });
        item = current.body.Item as Json | undefined;
      }
      const reasons = actions.map((_, i) =>
        i === index
          ? { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', ...(item && { Item: item }) }
          : { Code: 'None' },
      );
      return {
        status: 400,
        body: {
          __type: `${TYPE_PREFIX}TransactionCanceledException`,
          Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
          CancellationReasons: reasons,
        },
      };
    }
    // ConditionChecks wrote nothing as far as anyone could see: put their items back as they were.
    const checks = done.filter(({ action }) => action.kind === 'ConditionCheck');
    done.length = 0;
    done.push(...checks);
    await undo();
    if (token !== undefined) tokens.set(token, { fingerprint, at: now });
    return { status: 200, body: {} };
  };

  /**
   * A single-item write. dynalite ignores `ReturnValuesOnConditionCheckFailure` (Powertools' idempotency records
   * ask for it): with ALL_OLD, the write and, when its condition fails, a consistent read of the item it found run
   * under the exclusive lock, so the item in the error is the one the condition saw, as DynamoDB returns it.
   */
  const writeItem = async (operation: string, request: Json): Promise<{ status: number; body: Json }> => {
    const { ReturnValuesOnConditionCheckFailure: returnValues, ...input } = request;
    const allOld = returnValues === 'ALL_OLD';
    const release = await lock.acquire(allOld);
    try {
      const result = await call(operation, input);
      if (!allOld || !String(result.body.__type).endsWith('#ConditionalCheckFailedException')) return result;
      const tableName = String(input.TableName);
      const key = operation === 'PutItem' ? await keyOf(tableName, input.Item as Json) : (input.Key as Json);
      const current = await call('GetItem', { TableName: tableName, Key: key, ConsistentRead: true });
      if (current.status !== 200) throw new ApiFailure(current.status, current.body);
      const item = current.body.Item as Json | undefined;
      return { status: result.status, body: { ...result.body, ...(item && { Item: item }) } };
    } finally {
      release();
    }
  };

  const respond = (res: ServerResponse, answer: Promise<{ status: number; body: Json }>) =>
    void answer
      .catch((err: unknown) =>
        err instanceof ApiFailure
          ? { status: err.status, body: err.body }
          : { status: 500, body: { __type: `${TYPE_PREFIX}InternalServerError`, message: String(err) } },
      )
      .then(({ status, body }) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.0',
          'content-length': Buffer.byteLength(text),
          'x-amzn-requestid': randomBytes(26).toString('hex'),
        });
        res.end(text);
      });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers[INTERNAL_HEADER] === internal) return dynalite(req, res);
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target === 'DynamoDB_20120810.TransactWriteItems') {
      respond(
        res,
        readJson(req).then(async (request) => {
          const release = await lock.acquire(true);
          try {
            return await transact(request);
          } finally {
            release();
          }
        }),
      );
      return;
    }
    const single = SINGLE_WRITES.find((operation) => target === `DynamoDB_20120810.${operation}`);
    if (single !== undefined) {
      respond(
        res,
        readJson(req).then((request) => writeItem(single, request)),
      );
      return;
    }
    // The request's body waits in the stream (nothing reads it) until dynalite takes it.
    void lock.acquire(false).then((release) => {
      res.once('close', release);
      dynalite(req, res);
    });
  });
}

type Json = Record<string, unknown>;

interface Action {
  readonly kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck';
  readonly input: Json;
  readonly tableName: string;
  readonly key: Json;
  readonly id: string;
}

export const INTERNAL_HEADER = 'x-local-transaction';
/** Single-item writes, read here for `ReturnValuesOnConditionCheckFailure` (see writeItem). */
const SINGLE_WRITES = ['PutItem', 'UpdateItem', 'DeleteItem'] as const;
const TYPE_PREFIX = 'com.amazonaws.dynamodb.v20120810#';
const TOKEN_WINDOW_MS = 10 * 60_000;

class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: Json,
  ) {
    super(String(body.message ?? body.Message ?? body.__type));
  }
}

const error = (type: string, message: string) => ({ status: 400, body: { __type: `${TYPE_PREFIX}${type}`, message } });
const validation = (message: string) => error('ValidationException', message);

/** The single-item write that does one transact item, returning the item it replaced. */
function apply(action: Action): [string, Json] {
  const { ReturnValuesOnConditionCheckFailure: _, ...input } = action.input;
  switch (action.kind) {
    case 'Put':
      return ['PutItem', { ...input, ReturnValues: 'ALL_OLD' }];
    case 'Update':
      return ['UpdateItem', { ...input, ReturnValues: 'ALL_OLD' }];
    case 'Delete':
      return ['DeleteItem', { ...input, ReturnValues: 'ALL_OLD' }];
    case 'ConditionCheck': {
      // Removing an attribute nobody has changes nothing but (for a missing item) creates it: undone after.
      const names = { ...(input.ExpressionAttributeNames as Json | undefined), '#localTransactionProbe': '__probe' };
      return [
        'UpdateItem',
        {
          ...input,
          ExpressionAttributeNames: names,
          UpdateExpression: 'REMOVE #localTransactionProbe',
          ReturnValues: 'ALL_OLD',
        },
      ];
    }
  }
}

async function readJson(req: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
  } catch {
    throw new ApiFailure(400, { __type: 'com.amazon.coral.service#SerializationException' });
  }
}

/** Many shared holders or one exclusive, first come first served (a waiting transaction is not starved). */
class ReadWriteLock {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: { exclusive: boolean; grant: () => void }[] = [];

  acquire(exclusive: boolean): Promise<() => void> {
    return new Promise((resolve) => {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (exclusive) this.exclusive = false;
        else this.shared--;
        this.pump();
      };
      this.waiting.push({ exclusive, grant: () => resolve(release) });
      this.pump();
    });
  }

  private pump(): void {
    for (let next = this.waiting[0]; next !== undefined; next = this.waiting[0]) {
      if (this.exclusive || (next.exclusive && this.shared > 0)) return;
      this.waiting.shift();
      if (next.exclusive) this.exclusive = true;
      else this.shared++;
      next.grant();
    }
  }
}
