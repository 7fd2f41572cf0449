import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretSource } from '../use-cases/ports.js';
import { CONTROL_PLANE_CLIENT, type InstrumentClient, uninstrumented } from './client-config.js';

/** The service secret from Secrets Manager, fetched once per process (cold start) and kept in memory only. */
export class SecretsManagerSecret implements SecretSource {
  private value: Promise<string> | undefined;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretArn: string,
  ) {}

  get(): Promise<string> {
    this.value ??= this.fetch().catch((error: unknown) => {
      this.value = undefined; // a failed fetch is retried by the next request
      throw error;
    });
    return this.value;
  }

  private async fetch(): Promise<string> {
    const result = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretArn }));
    if (!result.SecretString || result.SecretString.length < 32)
      throw new Error('The service secret is missing or too short');
    return result.SecretString;
  }
}

export const createSecretsManagerClient = (instrument: InstrumentClient = uninstrumented) =>
  instrument(new SecretsManagerClient(CONTROL_PLANE_CLIENT));
