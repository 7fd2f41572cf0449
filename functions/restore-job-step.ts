// Placeholder until the handler lands (being written now); CDK needs the entry file to exist.
export const handler = async (): Promise<never> => {
  throw new Error('handler not written yet');
};
