import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addRestoreJobsStacks, publicBaseUrlFromContext, stageFromContext } from './restore-jobs.js';

// `npx cdk synth [-c stage=dev] [-c publicBaseUrl=https://restore.example.com]`. cdk-nag 3 is a validation
// plugin: synth fails with its report on any unacknowledged AwsSolutions finding. Acknowledgements live next to the
// resources they are about.
const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
addRestoreJobsStacks(app, { stage: stageFromContext(app), publicBaseUrl: publicBaseUrlFromContext(app) });
app.synth();
