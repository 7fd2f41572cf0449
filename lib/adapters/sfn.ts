import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { ExecutionState, Workflow } from '../use-cases/ports.js';
import { CONTROL_PLANE_CLIENT, type InstrumentClient, uninstrumented } from './client-config.js';

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

  /** arn:aws:states:<region>:<account>:stateMachine:<name> → …:execution:<name>:<execution name> */
  private executionArn(jobId: string): string {
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
  }

  async describe(jobId: string): Promise<ExecutionState> {
    const executionArn = this.executionArn(jobId);
    try {
      const { status } = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
      return status ?? 'RUNNING';
    } catch (error) {
      // Never started, or closed more than 90 days ago (Step Functions' retention of standard executions).
      if (error instanceof ExecutionDoesNotExist) return 'MISSING';
      throw error;
    }
  }

  async stop(jobId: string, cause: string): Promise<void> {
    try {
      // Stopping an execution that already ended changes nothing (Step Functions answers with its stop date).
      await this.sfn.send(
        new StopExecutionCommand({ executionArn: this.executionArn(jobId), error: 'RestoreJobKilled', cause }),
      );
    } catch (error) {
      // Never started (a create request that died before StartExecution, or one still about to call it: its
      // execution then finds the job KILLED at its first step and ends).
      if (error instanceof ExecutionDoesNotExist) return;
      throw error;
    }
  }
}

export const createSfnClient = (instrument: InstrumentClient = uninstrumented) =>
  instrument(new SFNClient(CONTROL_PLANE_CLIENT));
