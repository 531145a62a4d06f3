// The real decomposers behind the service: the bundled ONNX model and the OpenAI-compatible teacher.
// Loaded with import() on first use so that activation does not evaluate the runtime or the
// OpenAI client (esbuild keeps lazily imported modules uninitialised until then).
import * as path from 'path';
import { teacherConfigured, TutorSettings } from './config';
import { bundledModelDir, DecomposerFactory } from './decomposerService';

export function realDecomposers(extensionPath: string): DecomposerFactory {
  return {
    createLocal: async (settings: TutorSettings) => {
      const { LocalDecomposer } = await import('../local/localDecomposer');
      return new LocalDecomposer({
        // MATH_TUTOR_MODEL_DIR: another model directory (model developers; the broken-model tests).
        modelDir: process.env.MATH_TUTOR_MODEL_DIR || bundledModelDir(extensionPath),
        device: settings.device,
        // The extension runs from the esbuild bundle; its worker sits next to it in dist/.
        workerScript: path.join(extensionPath, 'dist', 'worker.js'),
      });
    },
    createTeacher: async (settings: TutorSettings, apiKey: string | undefined) => {
      if (!teacherConfigured(settings)) {
        return undefined;
      }
      const { TeacherDecomposer } = await import('../teacher/teacherDecomposer');
      return new TeacherDecomposer({
        baseURL: settings.teacher.baseUrl,
        model: settings.teacher.model,
        apiKey,
        timeoutMs: settings.teacher.timeoutMs,
      });
    },
  };
}
