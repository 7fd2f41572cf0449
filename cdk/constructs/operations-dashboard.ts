import { Duration, Stack } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  type AlarmProps,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  PeriodOverride,
  Stats,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  JOB_DIMENSIONS,
  METRIC,
  METRICS_NAMESPACE,
  type MetricName,
  SERVICE_NAME,
} from '../../functions/commons/metric-names.js';
import type { RestoreFunction, RestoreFunctionName } from './restore-function.js';

/** Props for {@link OperationsDashboard}. */
export interface OperationsDashboardProps {
  /** Every function of the service, by handler module name: errors, throttles and durations. */
  readonly functions: Readonly<Record<RestoreFunctionName, RestoreFunction>>;
  /** The restore job state machine: its executions. */
  readonly stateMachine: IStateMachine;
  /** The HTTP API: requests, 4xx, 5xx, latency. */
  readonly api: IHttpApi;
  /** The stack's other alarms, shown with this construct's own in the dashboard's alarm widget. */
  readonly alarms?: readonly Alarm[];
}

const PERIOD = Duration.minutes(5);

/**
 * What an operator opens: one CloudWatch dashboard with the service's own metrics (namespace `RestoreJobs`, the
 * functions' Embedded Metric Format lines: jobs created, finished, broken and killed, build size and time, time to
 * READY, downloads, authentication failures), the state machine's executions, the HTTP API's requests, errors and
 * latency, and every function's errors, throttles and durations; plus the alarms that are worth a notification
 * beyond the stack's existing ones (the alarm topic's aspect sends them there): 5xx answers of the API, and a
 * sweeper that keeps failing.
 *
 * Not alarmed, on purpose: JobsBroken (a broken job fails its execution, which ExecutionsFailedAlarm already
 * reports: a second alarm would page twice for one job), and AuthFailures (a wrong or unknown key is a client's
 * mistake or a scan, not something an operator can fix; a private key cannot be guessed by Digest retries; the
 * dashboard shows the reasons).
 */
export class OperationsDashboard extends Construct {
  /** The dashboard. */
  public readonly dashboard: Dashboard;
  /** The alarms this construct adds. */
  public readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const { functions, stateMachine, api } = props;
    const functionEntries = Object.entries(functions) as [RestoreFunctionName, RestoreFunction][];

    // A 5xx is an unexpected error (logged with its stack), a function that failed or timed out, or throttling:
    // a few in five minutes are an incident, one is on the dashboard.
    const serverErrors = countAlarm(this, 'ApiServerErrorsAlarm', {
      metric: api.metricServerError({ statistic: Stats.SUM, period: PERIOD }),
      threshold: 5,
      evaluationPeriods: 1,
      alarmDescription:
        'The API answered 5xx at least 5 times in 5 minutes. The functions log each unexpected error ("Unexpected ' +
        'error", with the route); the dashboard shows which function failed or was throttled.',
    });
    const sweeper = functions['redrive-unfinished-jobs'].function;
    // It runs every 5 minutes: one failed run is retried by the next; two in a row leave stuck jobs unattended.
    const sweeperErrors = countAlarm(this, 'SweeperErrorsAlarm', {
      metric: sweeper.metricErrors({ statistic: Stats.SUM, period: PERIOD }),
      threshold: 1,
      evaluationPeriods: 2,
      alarmDescription:
        'redrive-unfinished-jobs failed two runs in a row: jobs whose execution is missing or ended are not being ' +
        'driven to an end. See its log group.',
    });
    this.alarms = [serverErrors, sweeperErrors];

    const jobs = (name: MetricName, label: string) => serviceMetric(name, Stats.SUM, label);
    const byJobDimensions = (name: MetricName) =>
      search(name, JOB_DIMENSIONS, JOB_DIMENSIONS.map((dimension) => dimensionLabel(dimension)).join(' '));

    this.dashboard = new Dashboard(this, 'Dashboard', {
      // Executions last minutes to hours, downloads come days later: three hours by default, widened at will.
      defaultInterval: Duration.hours(3),
      periodOverride: PeriodOverride.AUTO,
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          `# ${Stack.of(this).stackName}: restore jobs\n` +
          `Service metrics: namespace \`${METRICS_NAMESPACE}\`, dimension \`service\` = \`${SERVICE_NAME}\` ` +
          '(docs/architecture.md, Operations). `AuthFailures` with `reason` = `missingCredentials` is the first ' +
          'leg of every Digest exchange, and `staleNonce` a client retrying with a fresh nonce: normal traffic.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph('Restore jobs (count per 5 minutes)', [
        jobs(METRIC.jobsCreated, 'created'),
        jobs(METRIC.jobsFinished, 'finished'),
        jobs(METRIC.jobsBroken, 'broken'),
        jobs(METRIC.jobsKilled, 'killed'),
      ]),
      graph('Jobs created, by family and source kind', [byJobDimensions(METRIC.jobsCreated)]),
      graph('Jobs broken, by family and source kind', [byJobDimensions(METRIC.jobsBroken)]),
    );
    this.dashboard.addWidgets(
      graph('Time to READY and build time (seconds)', [
        serviceMetric(METRIC.timeToReady, Stats.p(50), 'time to READY p50'),
        serviceMetric(METRIC.timeToReady, Stats.p(90), 'time to READY p90'),
        serviceMetric(METRIC.buildSeconds, Stats.p(50), 'build p50'),
        serviceMetric(METRIC.buildSeconds, Stats.p(90), 'build p90'),
      ]),
      graph('Artifacts built (bytes)', [
        serviceMetric(METRIC.buildBytes, Stats.SUM, 'bytes built'),
        serviceMetric(METRIC.buildBytes, Stats.MAXIMUM, 'largest artifact'),
      ]),
      graph('Downloads', [
        jobs(METRIC.downloadsGranted, 'granted'),
        search(METRIC.downloadsRefused, ['reason'], `refused: ${dimensionLabel('reason')}`),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Authentication failures, by reason', [search(METRIC.authFailures, ['reason'], dimensionLabel('reason'))]),
      graph('State machine executions', [
        stateMachine.metricStarted({ statistic: Stats.SUM, period: PERIOD, label: 'started' }),
        stateMachine.metricSucceeded({ statistic: Stats.SUM, period: PERIOD, label: 'succeeded' }),
        stateMachine.metricFailed({ statistic: Stats.SUM, period: PERIOD, label: 'failed' }),
        stateMachine.metricTimedOut({ statistic: Stats.SUM, period: PERIOD, label: 'timed out' }),
        stateMachine.metricAborted({ statistic: Stats.SUM, period: PERIOD, label: 'aborted (cancels)' }),
      ]),
      graph('State machine execution time (ms; a job waits for its link to expire)', [
        stateMachine.metricTime({ statistic: Stats.p(50), period: PERIOD, label: 'p50' }),
        stateMachine.metricTime({ statistic: Stats.p(90), period: PERIOD, label: 'p90' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('API requests and errors', [
        api.metricCount({ statistic: Stats.SUM, period: PERIOD, label: 'requests' }),
        api.metricClientError({ statistic: Stats.SUM, period: PERIOD, label: '4xx' }),
        api.metricServerError({ statistic: Stats.SUM, period: PERIOD, label: '5xx' }),
      ]),
      graph('API latency (ms)', [
        api.metricLatency({ statistic: Stats.p(50), period: PERIOD, label: 'p50' }),
        api.metricLatency({ statistic: Stats.p(90), period: PERIOD, label: 'p90' }),
        api.metricLatency({ statistic: Stats.p(99), period: PERIOD, label: 'p99' }),
        api.metricIntegrationLatency({ statistic: Stats.p(90), period: PERIOD, label: 'integration p90' }),
      ]),
      new AlarmStatusWidget({
        title: 'Alarms (each notifies the alarm topic)',
        alarms: [...(props.alarms ?? []), ...this.alarms],
        width: 8,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      graph(
        'Function errors',
        functionEntries.map(([name, fn]) =>
          fn.function.metricErrors({ statistic: Stats.SUM, period: PERIOD, label: name }),
        ),
      ),
      graph(
        'Function throttles',
        functionEntries.map(([name, fn]) =>
          fn.function.metricThrottles({ statistic: Stats.SUM, period: PERIOD, label: name }),
        ),
      ),
      graph(
        'Function duration p90 (ms)',
        functionEntries.map(([name, fn]) =>
          fn.function.metricDuration({ statistic: Stats.p(90), period: PERIOD, label: name }),
        ),
      ),
    );
  }
}

/** A service metric with the `service` dimension alone: the total of every dimension set (metrics.ts). */
function serviceMetric(name: MetricName, statistic: string, label: string): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: SERVICE_NAME },
    statistic,
    period: PERIOD,
    label,
  });
}

/**
 * One line per value of `dimensions` (a SEARCH over the metric's breakdown): values appear as they are emitted,
 * so the dashboard needs no list of families, source kinds or reasons.
 */
function search(name: MetricName, dimensions: readonly string[], label: string): MathExpression {
  const schema = [METRICS_NAMESPACE, 'service', ...dimensions].join(',');
  return new MathExpression({
    expression: `SEARCH('{${schema}} MetricName="${name}" service="${SERVICE_NAME}"', 'Sum', ${PERIOD.toSeconds()})`,
    usingMetrics: {},
    label,
    period: PERIOD,
  });
}

/** CloudWatch's dynamic label for a dimension's value, e.g. `${PROP('Dim.reason')}`. */
function dimensionLabel(dimension: string): string {
  return `\${PROP('Dim.${dimension}')}`;
}

/** An alarm on a count: at or over `threshold`, no data is no breach. */
function countAlarm(
  scope: Construct,
  id: string,
  props: Pick<AlarmProps, 'metric' | 'threshold' | 'evaluationPeriods' | 'alarmDescription'>,
): Alarm {
  return new Alarm(scope, id, {
    ...props,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}

function graph(title: string, metrics: IMetric[]): GraphWidget {
  return new GraphWidget({ title, left: metrics, width: 8, height: 6 });
}
