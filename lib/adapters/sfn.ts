import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { ExecutionState, Workflow } from '../use-cases/ports.js';
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

  async describe(jobId: string): Promise<ExecutionState> {
    // arn:aws:states:<region>:<account>:stateMachine:<name> → …:execution:<name>:<execution name>
    const executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
    try {
      const { status } = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
      return status ?? 'RUNNING';
    } catch (error) {
      // Never started, or closed more than 90 days ago (Step Functions' retention of standard executions).
      if (error instanceof ExecutionDoesNotExist) return 'MISSING';
      throw error;
    }
  }
}

export const createSfnClient = () => new SFNClient(CONTROL_PLANE_CLIENT);
