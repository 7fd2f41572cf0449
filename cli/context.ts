/** What every command gets: its configuration, where its output goes, and the API client (made on first use). */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ApiClient } from './api-client.js';
import { Config, ENV_VARS, type GlobalFlags } from './config.js';
import { createOutput, type Output, type OutputFormat } from './output.js';

export interface CommonOptions extends GlobalFlags {
  output: OutputFormat;
}

export interface Context {
  readonly config: Config;
  readonly out: Output;
  api(): ApiClient;
}

export function contextOf(options: CommonOptions): Context {
  const config = new Config(options);
  let client: ApiClient | undefined;
  return {
    config,
    out: createOutput(options.output),
    api: () => {
      client ??= new ApiClient(config.api());
      return client;
    },
  };
}

/** The options every command takes; defined per command so each command's --help lists them. */
export function withCommonOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--output <format>', 'table (for people) or json (for scripts)')
        .choices(['table', 'json'])
        .default('table'),
    )
    .option('--project-id <id>', `the project (group) id; default $${ENV_VARS.projectId}, else demo.json's groupId`)
    .option('--base-url <url>', `the API's base URL; default $${ENV_VARS.baseUrl}, else demo.json's baseUrl`);
}

/** A list command's `--page` and `--limit` (`items` names what is listed), and the query they make. */
export interface PageOptions {
  page: number;
  limit: number;
}

export function withPageOptions(command: Command, items: string): Command {
  return command
    .option('--page <n>', 'page number', positiveInt('--page'), 1)
    .option('--limit <n>', `${items} per page (at most 500)`, positiveInt('--limit', 500), 100);
}

export const pageQuery = (options: PageOptions) => ({ pageNum: options.page, itemsPerPage: options.limit });

export const CLUSTER_HELP = 'the cluster: a 24-hex id (Ops Manager paths) or a name (Atlas paths)';

/** Commander argument parsers: a bad value is a usage error (exit 2) with this message. */
export function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}.`);
    }
    return Number(value);
  };
}

export function nonNegativeSeconds(name: string) {
  return (value: string): number => {
    if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError(`${name} must be a number of seconds.`);
    return Number(value);
  };
}

export function nonNegativeInt(name: string, max = 0xffffffff) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) > max) {
      throw new InvalidArgumentError(`${name} must be an integer from 0 to ${max}.`);
    }
    return Number(value);
  };
}
