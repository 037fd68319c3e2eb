export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

/**
 * A load that failed. Not found or not allowed is said in plain words with a way home, and no Retry (it cannot
 * help); the server's own text ("thread thr_x not found") is for the other failures (found by review).
 */
export function ErrorNote({ error, onRetry }: { error: Error; onRetry?: () => void }) {
  const status = (error as Error & { status?: number }).status;
  if (status === 404 || status === 403)
    return (
      <div className="error-note" role="alert">
        <strong>This isn’t available.</strong> It may have been removed, or it isn’t yours to see. <a href="#/">Go to the home page</a>
      </div>
    );
  return (
    <div className="error-note" role="alert">
      <strong>Couldn’t load.</strong> {error.message}
      {onRetry ? (
        <button type="button" className="btn btn-sm" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}
