// Package mastemu is an offline emulator of the MAST archive (Mikulski
// Archive for Space Telescopes) as astroquery.mast.Observations and mastfs
// talk to it. It is an independent second implementation of the protocol
// (it does not import package mast), checked against real astroquery by
// fidelity_test.go.
//
// # Catalogs
//
// A *Catalog is the archive content: observations (CAOM rows), their
// products, the missions list and the names the resolver knows.
//
//   - Recorded() serves real responses recorded by astroquery's test suite
//     (embedded from recorded/, BSD-3, see recorded/LICENSE-NOTE.txt): the
//     observations of caom.json, advSearch.json and advSearchPos.json
//     (deduplicated by obsid), the 22 real products of obsid 2003738726
//     (products.json; the catalog adds a synthetic HST observation U9O40504M
//     for them), synthetic products for every other observation, the real
//     missions list (missions.extjs, verbatim) and the names of resolver.json.
//     Columns the 2017 recordings predate (intentType, dataRights, mtFlag,
//     srcDen; product proposal_id, parent_obsid, dataRights, calib_level,
//     filters) are filled with plausible values.
//   - Generate(seed, nObs, productsPerObs) builds a deterministic synthetic
//     archive: HST, JWST, TESS, GALEX, IUE and HLA observations clustered
//     around named targets, instrument names with "/", ";"-separated
//     filters, skewed proposal sizes (see BusiestProposal), MJD times, and
//     release dates after NowMJD for some HST/JWST observations (their
//     products are EXCLUSIVE_ACCESS). Products are synthesised on demand, so
//     Generate(1, 100000, 10) takes well under a second.
//
// Generated products mix productType SCIENCE, AUXILIARY, PREVIEW and INFO,
// extensions .fits, .fits.gz, .jpg, .txt and .cat, and "Minimum Recommended
// Products". Every 20th observation also lists the first product of an
// earlier observation of its collection (same dataURI under two obsids);
// the first two HST/JWST observations of each proposal both have a
// "<collection>_<proposal>_summary.txt" (same productFilename, different
// dataURI); HLA products are getdata.cgi URIs, some with null size (dynamic:
// served without Content-Length). Public HST, JWST, TESS and GALEX files are
// in the cloud for a deterministic 80% (see CloudObjects).
//
// Product bytes are a pure function of (dataURI, offset), generated on the
// fly: .fits is valid FITS of exactly the catalog size (2880-byte primary
// header, 16-bit image data); .fits.gz a valid gzip of a FITS file (stored
// deflate blocks); .jpg a valid JPEG followed by filler; anything else text
// in 80-byte lines. Open gives these bytes as an io.SectionReader, e.g. to
// load CloudObjects into an S3 server.
//
// Helpers for tests: Observations, Observation, Fields, Len, ProductsFor,
// Product, EachProduct, FindProduct, AddProduct (inject, say, a 100 MiB
// product), AddFileProduct (a product whose bytes are a local file, e.g. a
// real FITS file), Proposals, BusiestProposal, Missions, Resolve,
// TargetNames, CloudObjects, Open. cmd/mastemu serves a catalog on a TCP
// address for benchmarks (bench/run.sh).
//
// # Server
//
// New(Options) returns an http.Handler (use it with httptest.NewServer):
//
//	POST /api/v0/invoke                       request=<JSON>; GET ?request= too
//	    Mast.Caom.Cone                        ra, dec, radius (deg); adds distance (arcsec), sorted by it
//	    Mast.Caom.Filtered[.Position]         columns "*", a list, or COUNT_BIG(*); filters; position "ra, dec, r"
//	    Mast.Caom.Products                    obsid "id1,id2"; non-numeric -> ERROR as the archive
//	    Mast.Caom.All                         extjs missions histogram
//	    Mast.Name.Lookup                      input -> resolvedCoordinate
//	POST /portal/Mashup/Mashup.asmx/columnsconfig   colConfigId=<service>
//	HEAD|GET /api/v0.1/Download/file[/]?uri=  product bytes, Range/206/416, 401, 404
//	POST /api/v0.1/Download/bundle.sh         uri=..&uri=.. -> curl script
//	GET  /api/v0.1/path_lookup/?uri=..        cloud paths (status_code 200/404)
//	GET  /Santa-war/query?name=..             SANTA name resolver
//	GET  /whoami                              anonymous or logged-in session info
//
// Filters follow the archive: AND across filters, OR within one (freeText
// included), case-insensitive column names and values, freeText as SQL
// LIKE, inclusive {"min","max"} ranges, and on separator columns (those the
// columns config gives a separator, named in the request or not) a value
// matches the whole string or any ";"-token. Cones match the observation
// centre (s_ra, s_dec); the real archive matches footprints (s_region), so
// it returns more rows for large footprints. An unknown column is status
// ERROR. Responses carry MAST's field types and a null _selected_ column,
// and honour page/pagesize with consistent paging numbers.
//
// Options switch on harder behaviour: PageSizeCap (short pages),
// ExecutingPolls (long polling), Token (exclusive-access products need
// "Authorization: token <t>" or cookie mast_token), IgnoreRange (200 for
// ranged GETs) and OmitContentLength. Stats and ResetStats expose request
// counts by endpoint and service, download bytes and a request log.
package mastemu
