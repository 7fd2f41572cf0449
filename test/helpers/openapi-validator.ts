import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import { type RouteDefinition, type RouteMethod, routeMatcher } from '#functions/routes.js';
import { parseOutputOptions } from '#lib/domain/query.js';

/**
 * Checks an answer of the API against the OpenAPI document (docs/openapi.json, what `GET /api/openapi.json` serves):
 * the operation by method and path template, the response by status (a status the operation does not list fails),
 * required headers, and the JSON body against the response's schema with ajv's JSON Schema 2020-12 build (OpenAPI
 * 3.1's dialect), after unwrapping `envelope=true` as the document describes it. Answers to requests no operation
 * takes must be MongoDB's 404 or 405 (with `Allow`), or the gateway's 413, with the `Error` body, as the document's
 * description says. Each schema is compiled once per process.
 */

export interface ApiAnswer {
  readonly method: string;
  /** The request URL (absolute); its path is matched, its query gives `pretty` and `envelope`. */
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

interface ResponseObject {
  readonly $ref?: string;
  readonly description?: string;
  readonly headers?: Record<string, { required?: boolean }>;
  readonly content?: Record<string, { schema: SchemaObject }>;
}
interface OperationObject {
  readonly parameters?: { name: string; in: string }[];
  readonly responses: Record<string, ResponseObject>;
}
type SchemaObject = { $ref?: string; properties?: Record<string, unknown> } & Record<string, unknown>;
interface Document {
  readonly paths: Record<string, Record<string, OperationObject>>;
  readonly components: { schemas: Record<string, SchemaObject>; responses?: Record<string, ResponseObject> };
}

const DOCUMENT_PATH = new URL('../../docs/openapi.json', import.meta.url);
const COMPONENTS_ID = 'https://restore-jobs.invalid/openapi/components';
const METHODS = ['get', 'post', 'delete', 'put', 'patch'] as const;

// ajv-formats is CommonJS: its module object is the plugin, which TypeScript types as the default export's holder.
const addFormats = ((addFormatsPlugin as unknown as { default?: unknown }).default ??
  addFormatsPlugin) as unknown as typeof addFormatsPlugin.default;

export class OpenApiValidator {
  private readonly ajv: Ajv2020;
  private readonly match: (method: string, rawPath: string) => ReturnType<ReturnType<typeof routeMatcher>>;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: Document = JSON.parse(readFileSync(DOCUMENT_PATH, 'utf8')) as Document) {
    this.ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(this.ajv);
    // OpenAPI 3.1's own schema keywords (JSON Schema's vocabulary extension): annotations, nothing to check.
    this.ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
    // The document's `#/components/schemas/X` refs, resolved in one schema resource holding every component.
    this.ajv.addSchema({ $id: COMPONENTS_ID, $defs: rewriteRefs(document.components.schemas) });
    const table: RouteDefinition[] = Object.entries(document.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m] !== undefined).map((m) => ({
        method: m.toUpperCase() as RouteMethod,
        path,
        // The matcher needs no handler: the document's operation is looked up by path and method.
        handler: 'get-openapi' as const,
      })),
    );
    this.match = routeMatcher(table);
  }

  /** Throws, naming the route, status and ajv's errors, when `answer` is not what the document describes. */
  check(answer: ApiAnswer): void {
    const url = new URL(answer.url);
    const method = answer.method.toUpperCase();
    const match = this.match(method, url.pathname);
    if (match.kind !== 'route') {
      // No operation takes it: the $default route's answer (or the gateway's 413), described in info.description.
      const where = `${method} ${url.pathname} (no operation)`;
      const allow = match.kind === 'methodNotAllowed' ? match.allow.join(', ') : undefined;
      const expected = allow === undefined ? 404 : 405;
      if (answer.status !== expected && answer.status !== 413) {
        fail(where, answer.status, `expected ${expected} (or 413), the answer of a request no operation takes`);
      }
      if (answer.status === 405 && answer.headers.get('allow') !== allow) {
        fail(where, answer.status, `Allow is ${answer.headers.get('allow')}, not ${allow}`);
      }
      this.checkJson(where, answer, url, { $ref: '#/components/schemas/Error' }, true);
      return;
    }
    const where = `${method} ${match.route.path}`;
    const operation = this.document.paths[match.route.path]?.[method.toLowerCase()];
    if (operation === undefined) throw new Error(`${where}: the matcher found a route the document lacks`);
    const listed = operation.responses[String(answer.status)];
    if (listed === undefined) {
      fail(where, answer.status, `the document lists only ${Object.keys(operation.responses).join(', ')}`, answer);
    }
    const response = this.resolveResponse(listed);
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      if (header.required && !answer.headers.has(name)) fail(where, answer.status, `header ${name} is missing`);
    }
    const media = response.content?.['application/json'];
    if (media === undefined) {
      if (answer.text !== '') fail(where, answer.status, 'the document describes no body, but one came', answer);
      return;
    }
    const takesOptions = (operation.parameters ?? []).some((p) => p.in === 'query' && p.name === 'envelope');
    this.checkJson(where, answer, url, media.schema, takesOptions);
  }

  private checkJson(where: string, answer: ApiAnswer, url: URL, schema: SchemaObject, takesOptions: boolean): void {
    const contentType = answer.headers.get('content-type') ?? '';
    if (!/^application\/json\b/.test(contentType)) fail(where, answer.status, `content-type ${contentType}`, answer);
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      fail(where, answer.status, 'the body is not JSON', answer);
    }
    if (takesOptions) {
      // The handlers' own reading of the options, as lenient as an error answer's (functions/commons/responses.ts).
      let output = { pretty: false, envelope: false };
      try {
        output = parseOutputOptions(Object.fromEntries(url.searchParams));
      } catch {}
      const formatted = output.pretty ? `${JSON.stringify(body, null, 2)}\n` : JSON.stringify(body);
      if (answer.text !== formatted) fail(where, answer.status, `not formatted as pretty=${output.pretty}`, answer);
      if (output.envelope) body = this.unwrap(where, answer, body, schema);
    }
    const validate = this.validatorFor(schema);
    if (!validate(body)) {
      fail(where, answer.status, this.ajv.errorsText(validate.errors, { dataVar: 'body', separator: '; ' }), answer);
    }
  }

  /** `envelope=true`: `{status, content}` for a single result or error; a list has `status` among its fields. */
  private unwrap(where: string, answer: ApiAnswer, body: unknown, schema: SchemaObject): unknown {
    if (typeof body !== 'object' || body === null) fail(where, answer.status, 'the envelope is not an object', answer);
    const fields = body as Record<string, unknown>;
    if (fields.status !== answer.status) fail(where, answer.status, `envelope status ${fields.status}`, answer);
    const { status: _status, ...rest } = fields;
    if (this.resolveSchema(schema).properties?.results !== undefined) return rest;
    const keys = Object.keys(rest);
    if (keys.length !== 1 || keys[0] !== 'content') fail(where, answer.status, `envelope fields ${keys}`, answer);
    return rest.content;
  }

  private validatorFor(schema: SchemaObject): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (validate === undefined) {
      validate = this.ajv.compile(rewriteRefs(schema) as SchemaObject);
      this.compiled.set(key, validate);
    }
    return validate;
  }

  private resolveResponse(response: ResponseObject): ResponseObject {
    if (response.$ref === undefined) return response;
    const name = response.$ref.replace('#/components/responses/', '');
    const resolved = this.document.components.responses?.[name];
    if (resolved === undefined) throw new Error(`unresolved ${response.$ref}`);
    return resolved;
  }

  private resolveSchema(schema: SchemaObject): SchemaObject {
    if (schema.$ref === undefined) return schema;
    const resolved = this.document.components.schemas[schema.$ref.replace('#/components/schemas/', '')];
    if (resolved === undefined) throw new Error(`unresolved ${schema.$ref}`);
    return resolved;
  }
}

/** `#/components/schemas/X` → `$defs/X` of the components resource (a deep copy). */
function rewriteRefs<T>(value: T): T {
  return JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', `"${COMPONENTS_ID}#/$defs/`)) as T;
}

function fail(where: string, status: number, why: string, answer?: ApiAnswer): never {
  const body = answer === undefined ? '' : `\n  body: ${answer.text.slice(0, 2000)}`;
  throw new Error(`OpenAPI: ${where} → ${status} does not match docs/openapi.json: ${why}${body}`);
}

let shared: OpenApiValidator | undefined;

/** One validator per process (each test file is one), built on first use. */
export function openApiValidator(): OpenApiValidator {
  shared ??= new OpenApiValidator();
  return shared;
}
