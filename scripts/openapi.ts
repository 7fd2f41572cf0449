/** `npm run openapi`: writes the OpenAPI document (lib/openapi/document.ts) to docs/openapi.json. */
import { writeFileSync } from 'node:fs';
import { renderOpenApiDocument } from '../lib/openapi/document.js';

const target = new URL('../docs/openapi.json', import.meta.url);
writeFileSync(target, renderOpenApiDocument());
console.log(`Wrote ${target.pathname}`);
