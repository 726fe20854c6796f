// Package cloud reads MAST products from the public S3 bucket (stpubdata)
// and tells which products are held there. It knows nothing of FUSE.
//
//   - Client is an anonymous S3 client (aws-sdk-go-v2): requests are never
//     signed, whatever AWS_* variables or ~/.aws files say (the SDK's
//     default configuration chain is not used at all). With an endpoint it
//     uses path-style addressing (BaseEndpoint), otherwise AWS. Checksums
//     are computed and validated only when an operation requires them, so
//     ranged reads (which carry no full-object checksum) do not log. TLS
//     verification is always on; AWS_CA_BUNDLE, when set, adds its
//     certificates to the system roots (the SDK's own handling of it fails
//     with a plain *http.Client, see docs of the test environment).
//   - Client.Head gives size and ETag (a missing object is a *NotFoundError,
//     errors.Is ErrNotFound); Client.ReadAt does ranged GETs and checks the
//     Content-Range and length of every answer: it returns the bytes asked
//     for or an error, never fewer or different bytes.
//   - Retries: every request is a GET or HEAD, so every retry is safe. The
//     SDK's standard retryer retries 5xx, 429, SlowDown and transport
//     errors, at most Config.RetryMaxAttempts attempts, with its delay
//     from retry.Policy: full jitter in [0, min(RetryCap, RetryBase·2^n))
//     (from 1s for throttling answers), raised to the answer's Retry-After
//     (the SDK itself reads only X-Amz-Retry-After) capped at
//     MaxRetryAfter; the SDK sleeps under the call's context, so Timeout
//     and the caller bound every wait. A broken answer (a body that breaks
//     off, stalls or is short, a Content-Range or length that does not
//     match the request) is a *bodyError: ReadAt asks for the range again
//     and ReadBlocks resumes at its first unfilled buffer, with backoff, at
//     most RetryMaxAttempts GETs; then the ErrS3 error goes to the Source,
//     which reads from MAST. An ETag change (mast.ErrChanged) is never
//     retried. Within one call, later GETs carry If-Match: the first
//     answer's ETag, so a retry or resumption never splices two versions.
//     Stats.Retries counts both kinds of retry.
//   - Stall detection: each request attempt runs under its own context
//     (attemptClient wraps the HTTP client). Until the headers arrive a
//     timer of StallTimeout cancels it (a *stallError the SDK retries);
//     then the body is a retry.StallReader whose watchdog cancels the
//     attempt when no byte arrives for StallTimeout during a Read, which
//     fails with an error wrapping retry.ErrStalled and is retried as a
//     broken answer. Closing the body ends the attempt's context; the
//     caller's context is never cancelled. Stats.Stalls counts them.
//   - Locator maps data URIs to bucket keys as astroquery's get_cloud_uris
//     does: MAST's path_lookup in batches of 40, then a HEAD of each key, so
//     only objects that really exist count. Every answer (found or not) is
//     learned once per URI and kept; failures are not kept. Concurrent
//     callers share the work: a URI being resolved by one caller is waited
//     for, not asked again. The work runs detached from the caller's
//     context, so an interrupted caller does not fail the others.
package cloud
