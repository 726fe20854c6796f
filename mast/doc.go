// Package mast is the client for the MAST archive (Mikulski Archive for
// Space Telescopes) that mastfs mounts. It speaks the protocol of
// astroquery.mast.Observations and knows nothing of FUSE.
//
// # Endpoints
//
//   - POST {BaseURL}/api/v0/invoke: Mashup services (Observations, Count,
//     Products, Missions, Invoke).
//   - POST {BaseURL}/portal/Mashup/Mashup.asmx/columnsconfig: column
//     configurations (ColumnsConfig, BuildFilters).
//   - HEAD/GET {BaseURL}/api/v0.1/Download/file?uri=…: products (Head,
//     ReadAt, Open); POST …/Download/bundle.sh (BundleScript).
//   - GET {ResolverURL}: SANTA name resolution (Resolve).
//   - GET {PathLookupURL}: dataURI to cloud key (PathLookup).
//
// # Wire compatibility
//
// Invoke requests are byte-identical to astroquery's: the envelope keys
// service, params, format, pagesize, page, extras, cacheBreaker in that
// order, encoded as Python's json.dumps (", " and ": " separators, float
// repr, \uXXXX escapes) and urllib.parse.quote(safe="/"), sent as a
// "request=" form body. Params keeps key order for that reason. The same
// cacheBreaker is re-sent while the server answers EXECUTING, as MAST
// requires, and for every page of one call.
//
// # Decisions
//
//   - Polling: astroquery re-posts EXECUTING requests at once; this
//     client waits 100 ms doubling to 2 s, and gives up after
//     Config.PollDeadline.
//   - Paging follows paging.page and paging.pagesFiltered only, so a
//     server that caps the page size still gets every page. A server
//     that answers another page than asked, or an empty page before the
//     last, is an error rather than an endless loop.
//   - Rows keep numbers as json.Number (obsids and sizes stay exact); the
//     _selected_ column is dropped; pages are stacked.
//   - Column configs are cached per service for the Client's lifetime,
//     fetched once however many callers ask at the same time.
//   - Products batches 500 obsids per request, up to three batches at a
//     time, and drops repeated obsids. PathLookup batches 40 URIs.
//   - The token goes, as "Authorization: token" and the mast_token
//     cookie, only to archive endpoints; never to the resolver or
//     path_lookup, never into a URL, error or log line. Redirects are
//     followed, and net/http drops both headers on a redirect to another
//     domain.
//   - Every method applies Config.Timeout on top of its ctx. A cancelled
//     ctx surfaces as context.Canceled / DeadlineExceeded, not ErrServer.
//
// # Filters
//
// BuildFilters follows astroquery's build_filter_set against the
// Mast.Caom.Cone config: names are matched case-insensitively and sent as
// the user spelled them; a column is continuous when its vot.datatype
// (else type) is double, float or numeric, or treatNumeric is set;
// discrete values are strings; one wildcard value per criterion becomes
// freeText. mastfs extends it where astroquery would warn and drop the
// filter:
//
//   - a range lo..hi is valid only on a continuous column and becomes
//     {"min": lo, "max": hi}, the numbers copied as written (they must be
//     numbers);
//   - a single value on a continuous column becomes {"min": v, "max": v};
//   - several values or ranges on a continuous column give several
//     {min,max} entries (OR-ed by MAST);
//   - on MJD columns (isMjd, or unit MJD) ISO dates 2020-01-01 or
//     2020-01-01T12:00:00 (UTC) are converted to MJD numbers.
//
// Bad criteria are *InvalidCriteriaError before anything is sent; an
// unknown column carries difflib's closest name as a suggestion.
//
// # Reading products
//
// ReadAt sends "Range: bytes=off-end" and insists on a 206 whose
// Content-Range starts at off and whose body has exactly the announced
// length. A 200 (Range ignored) is accepted by skipping to off. io.EOF is
// returned only at the product's real end, as told by Content-Range,
// Content-Length or a framed (chunked, HTTP/2) body; a body that stops
// early is ErrServer, never a short read. Open streams whole products,
// including generated ones that have no Content-Length.
//
// # Errors
//
// Errors wrap ErrNotFound, ErrUnauthorized or ErrServer (errors.Is), or
// are *ServiceError (status ERROR), *InvalidCriteriaError, *ResolveError
// or *HTTPError (errors.As). Client is safe for concurrent use.
package mast
