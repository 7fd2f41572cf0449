import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { UsageRecord } from '../domain/usage.js';
import type {
  AutomatedRestoreRequest,
  BuildProgressEvent,
  EventPublisher,
  StatusChange,
  UsagePublisher,
} from '../use-cases/ports.js';
import { TransientError } from '../use-cases/task-errors.js';
import { CONTROL_PLANE_CLIENT, type InstrumentClient, uninstrumented } from './client-config.js';

export const EVENT_SOURCE = 'restore-jobs';
export const STATUS_CHANGE_DETAIL_TYPE = 'Restore Job Status Change';
export const AUTOMATED_RESTORE_DETAIL_TYPE = 'Automated Restore Requested';
export const PROGRESS_DETAIL_TYPE = 'Restore Job Progress';
/** docs/events.md, docs/metering.md: one per job once its usage is final; consumers de-duplicate on usageId. */
export const USAGE_DETAIL_TYPE = 'Restore Usage Recorded';

/**
 * Publishes status changes to the service's event bus. PutEvents reports per-entry failures in a
 * successful response: a failed entry is an error here, never dropped.
 */
export class EventBridgePublisher implements EventPublisher, UsagePublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
  ) {}

  async publish(changes: readonly StatusChange[]): Promise<void> {
    await this.put(
      changes.map((change) => ({
        detailType: STATUS_CHANGE_DETAIL_TYPE,
        detail: {
          previousStatusName: change.previous.statusName,
          previousDeliveryStatusName: change.previous.deliveryStatusName,
          ...(change.reason !== undefined && { reason: change.reason }),
          job: change.job,
        },
      })),
    );
  }

  async publishAutomatedRestore(request: AutomatedRestoreRequest): Promise<void> {
    await this.put([{ detailType: AUTOMATED_RESTORE_DETAIL_TYPE, detail: request }]);
  }

  async publishProgress(progress: BuildProgressEvent): Promise<void> {
    await this.put([{ detailType: PROGRESS_DETAIL_TYPE, detail: progress }]);
  }

  async publishUsage(record: UsageRecord): Promise<void> {
    await this.put([{ detailType: USAGE_DETAIL_TYPE, detail: record }]);
  }

  private async put(events: readonly { detailType: string; detail: unknown }[]): Promise<void> {
    for (let start = 0; start < events.length; start += 10) {
      const result = await this.client.send(
        new PutEventsCommand({
          Entries: events.slice(start, start + 10).map((event) => ({
            EventBusName: this.eventBusName,
            Source: EVENT_SOURCE,
            DetailType: event.detailType,
            Resources: [],
            Detail: JSON.stringify(event.detail),
          })),
        }),
      );
      if ((result.FailedEntryCount ?? 0) > 0) {
        const failed = result.Entries?.find((entry) => entry.ErrorCode !== undefined);
        // Per-entry failures (throttling, internal errors) are worth another try: the step is retried.
        throw new TransientError(
          `EventBridge refused ${result.FailedEntryCount} event(s): ${failed?.ErrorCode} ${failed?.ErrorMessage}`,
        );
      }
    }
  }
}

export const createEventBridgeClient = (instrument: InstrumentClient = uninstrumented) =>
  instrument(new EventBridgeClient(CONTROL_PLANE_CLIENT));
