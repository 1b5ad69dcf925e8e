// wav.ts — 32-bit float WAV files (format 3, IEEE float), the format
// `amp render --format f32` writes, so an export compares bit for bit.

export function encodeWavF32(channels: Float32Array[], sampleRate: number): ArrayBuffer {
  const n = channels.length;
  const frames = channels[0]?.length ?? 0;
  const dataBytes = frames * n * 4;
  const buffer = new ArrayBuffer(44 + dataBytes);
  const v = new DataView(buffer);
  const text = (offset: number, s: string): void => {
    for (let i = 0; i < s.length; i++) v.setUint8(offset + i, s.charCodeAt(i));
  };
  text(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 3, true);                 // WAVE_FORMAT_IEEE_FLOAT
  v.setUint16(22, n, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * n * 4, true);
  v.setUint16(32, n * 4, true);
  v.setUint16(34, 32, true);
  text(36, 'data');
  v.setUint32(40, dataBytes, true);
  let offset = 44;
  for (let i = 0; i < frames; i++) {
    for (const c of channels) {
      v.setFloat32(offset, c[i] ?? 0, true);
      offset += 4;
    }
  }
  return buffer;
}
