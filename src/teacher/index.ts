// The teacher's public surface, for the router, the CLI and the extension.
export { TeacherDecomposer, subQuestionsFromReply } from './teacherDecomposer';
export { TeacherAssistant } from './teacherAssistant';
export { type TeacherConfig, displayURL, redactSecrets } from './teacherClient';
export { teacherKeyFromEnv } from './env';
