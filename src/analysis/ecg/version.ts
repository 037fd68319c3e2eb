/** Name and version of the ECG algorithms, stamped on every derived observation and evaluation. */
export const ECG_ALGORITHM = { name: 'vigil-ecg', version: '2.6.0' } as const;
