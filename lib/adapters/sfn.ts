import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Workflow } from '../use-cases/ports.js';
import { CONTROL_PLANE_CLIENT } from './client-config.js';

/** Starts one execution per job, named after the job so a second start of the same job is refused by Step Functions. */
export class StepFunctionsWorkflow implements Workflow {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(jobId: string): Promise<void> {
    try {
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: jobId,
          input: JSON.stringify({ jobId }),
        }),
      );
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return;
      throw error;
    }
  }
}

export const createSfnClient = () => new SFNClient(CONTROL_PLANE_CLIENT);
