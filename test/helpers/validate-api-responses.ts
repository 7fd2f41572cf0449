import { expect } from 'vitest';

/**
 * Vitest setup (vitest.config.ts): in the integration tests, every answer of the API that reaches `fetch` — the Go
 * Digest client's (go-digest.ts), the downloads' and the unsigned requests' — is checked against the OpenAPI document
 * (openapi-validator.ts) before the test sees it; a mismatch rejects the fetch, which fails the test. The API's
 * answers are told apart by API Gateway's `apigw-requestid` header (the local gateway sets it too), so S3's answers
 * (a followed redirect, a presigned URL) are left alone. curl's answers are checked where it runs (auth.test.ts).
 */
if (expect.getState().testPath?.includes('/test/integration/')) {
  const { openApiValidator } = await import('./openapi-validator.js');
  const unchecked = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const response = await unchecked(input, init);
    if (!response.headers.has('apigw-requestid')) return response;
    openApiValidator().check({
      method: init?.method ?? (input instanceof Request ? input.method : 'GET'),
      url: response.url,
      status: response.status,
      headers: response.headers,
      text: await response.clone().text(),
    });
    return response;
  };
}
