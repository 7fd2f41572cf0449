import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { parseBaseUrl, publicBaseUrl } from '#functions/commons/base-url.js';

/** An API Gateway (payload 2.0) event whose headers a client forged. */
const event = {
  headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' },
  requestContext: { domainName: 'abc123.execute-api.eu-west-1.amazonaws.com' },
} as unknown as APIGatewayProxyEventV2;

describe('publicBaseUrl', () => {
  const saved = process.env.PUBLIC_BASE_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.PUBLIC_BASE_URL;
    else process.env.PUBLIC_BASE_URL = saved;
  });

  it('is the configured URL when there is one', () => {
    expect(publicBaseUrl(event, 'https://restore.example.com')).toBe('https://restore.example.com');
    process.env.PUBLIC_BASE_URL = 'https://restore.example.com/';
    expect(publicBaseUrl(event)).toBe('https://restore.example.com');
  });

  it('is otherwise https:// and the domain API Gateway received the request on, whatever the headers say', () => {
    delete process.env.PUBLIC_BASE_URL;
    expect(publicBaseUrl(event)).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com');
    process.env.PUBLIC_BASE_URL = '';
    expect(publicBaseUrl(event)).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com');
  });

  it('fails on a configured value that is not an origin (a deployment error)', () => {
    process.env.PUBLIC_BASE_URL = 'https://restore.example.com/prefix';
    expect(() => publicBaseUrl(event)).toThrow(/PUBLIC_BASE_URL must be/);
  });
});

describe('parseBaseUrl', () => {
  it('returns the origin, port included, without a trailing slash', () => {
    expect(parseBaseUrl('http://127.0.0.1:3000/', 'X')).toBe('http://127.0.0.1:3000');
    expect(parseBaseUrl('https://Restore.Example.com', 'X')).toBe('https://restore.example.com');
  });

  it.each([
    'restore.example.com',
    'ftp://restore.example.com',
    'https://restore.example.com/v1',
    'https://restore.example.com/?a=1',
    'https://restore.example.com/#x',
    'https://user:pass@restore.example.com',
  ])('refuses %s', (value) => {
    expect(() => parseBaseUrl(value, 'X')).toThrow(/^X must/);
  });

  it('takes only the protocols it is given (CDK: https)', () => {
    expect(() => parseBaseUrl('http://restore.example.com', 'publicBaseUrl', ['https:'])).toThrow(
      /publicBaseUrl must be https:\/\/host\[:port\]/,
    );
  });
});
