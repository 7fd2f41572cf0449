import { Logger } from '@aws-lambda-powertools/logger';

/** One structured logger per process (POWERTOOLS_SERVICE_NAME names the service). Never log headers or bodies: they carry credentials and tokens. */
export const logger = new Logger();
