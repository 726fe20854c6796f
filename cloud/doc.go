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
//   - Locator maps data URIs to bucket keys as astroquery's get_cloud_uris
//     does: MAST's path_lookup in batches of 40, then a HEAD of each key, so
//     only objects that really exist count. Every answer (found or not) is
//     learned once per URI and kept; failures are not kept. Concurrent
//     callers share the work: a URI being resolved by one caller is waited
//     for, not asked again. The work runs detached from the caller's
//     context, so an interrupted caller does not fail the others.
package cloud
