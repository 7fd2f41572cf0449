import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { EventPublisher, StatusChange } from '../use-cases/ports.js';

export const EVENT_SOURCE = 'restore-jobs';
export const STATUS_CHANGE_DETAIL_TYPE = 'Restore Job Status Change';

/**
 * Publishes status changes to the service's event bus. PutEvents reports per-entry failures in a
 * successful response: a failed entry is an error here, never dropped.
 */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
  ) {}

  async publish(changes: readonly StatusChange[]): Promise<void> {
    for (let start = 0; start < changes.length; start += 10) {
      const batch = changes.slice(start, start + 10);
      const result = await this.client.send(
        new PutEventsCommand({
          Entries: batch.map((change) => ({
            EventBusName: this.eventBusName,
            Source: EVENT_SOURCE,
            DetailType: STATUS_CHANGE_DETAIL_TYPE,
            Resources: [],
            Detail: JSON.stringify({
              previousStatusName: change.previous.statusName,
              previousDeliveryStatusName: change.previous.deliveryStatusName,
              ...(change.reason !== undefined && { reason: change.reason }),
              job: change.job,
            }),
          })),
        }),
      );
      if ((result.FailedEntryCount ?? 0) > 0) {
        const failed = result.Entries?.find((entry) => entry.ErrorCode !== undefined);
        throw new Error(
          `EventBridge refused ${result.FailedEntryCount} event(s): ${failed?.ErrorCode} ${failed?.ErrorMessage}`,
        );
      }
    }
  }
}

export const createEventBridgeClient = () => new EventBridgeClient({});
