package mastemu

import (
	"io"
	"net/http"
	"net/url"
	"strings"
)

// productsColumnsConfig is the columns config of Mast.Caom.Products. The
// archive's is not recorded; labels follow MAST's product field
// documentation (obs_id "Observation ID", obsID "Product Group ID", ...).
const productsColumnsConfig = `{
"_selected_":{"text":"selected","add":true,"type":"boolean","hidden":true},
"obsID":{"text":"Product Group ID","vot.datatype":"long","vot.description":"Database identifier for obs_id","example":"Long integer, e.g. 2007590987"},
"obs_collection":{"text":"Mission","vot.datatype":"char","separator":";","vot.description":"Collection","example":"E.g. SWIFT, PS1, HST, IUE"},
"dataproduct_type":{"text":"Data Product Type","vot.datatype":"char","vot.description":"Type of product","example":"Valid values: IMAGE, SPECTRUM, SED, TIMESERIES, VISIBILITY, EVENTLIST, CUBE, CATALOG, ENGINEERING, NULL"},
"obs_id":{"text":"Observation ID","vot.datatype":"char","vot.description":"Observation identifier, given by mission","example":"U24Z0101T, N4QF18030"},
"description":{"text":"Description","vot.datatype":"char","vot.description":"File description","example":"DADS FLT file - Calibrated exposure"},
"type":{"text":"Product Category","vot.datatype":"char","vot.description":"S = simple product, C = composite product","example":"Valid values: S, C"},
"dataURI":{"text":"URI","vot.datatype":"char","vot.description":"Data access URI","example":"mast:HST/product/u9o40504m_c3m.fits"},
"productType":{"text":"Product Type","vot.datatype":"char","vot.description":"Product type","example":"Valid values: SCIENCE, CALIBRATION, BIAS, DARK, FLAT, WAVECAL, NOISE, WEIGHT, AUXILIARY, INFO, CATALOG, LIGHTCURVE, TARGETPIXELS, PREVIEW, PREVIEW_FULL, PREVIEW_1D, PREVIEW_2D, THUMBNAIL, PREVIEW_THUMB, MINIMUM_SET, RECOMMENDED_SET, COMPLETE_SET, WEBSERVICE"},
"productGroupDescription":{"text":"Product Group","vot.datatype":"char","vot.description":"Product group","example":"Minimum Recommended Products"},
"productSubGroupDescription":{"text":"Product Subgroup","vot.datatype":"char","vot.description":"Product subgroup","example":"E.g. DRZ, FLT, C3M"},
"productDocumentationURL":{"text":"Product Documentation","vot.datatype":"char","vot.description":"Link to product documentation"},
"project":{"text":"Project","vot.datatype":"char","vot.description":"Processing project","example":"E.g. HST, HLA, EUVE, hlsp_legus"},
"prvversion":{"text":"Provenance Version","vot.datatype":"char","vot.description":"Version of the processing software"},
"proposal_id":{"text":"Proposal ID","vot.datatype":"char","vot.description":"Proposal ID"},
"productFilename":{"text":"Filename","vot.datatype":"char","vot.description":"Product file name","example":"u9o40504m_c3m.fits"},
"size":{"text":"Size","vot.datatype":"long","vot.unit":"byte","unit":"bytes","vot.description":"File size in bytes; null when the file is generated on request"},
"parent_obsid":{"text":"Parent Product Group ID","vot.datatype":"long","vot.description":"Product Group ID of the observation the product belongs to","example":"Long integer, e.g. 2007590987"},
"dataRights":{"text":"Data Rights","vot.datatype":"char","vot.description":"Data access rights","example":"Valid values: PUBLIC, EXCLUSIVE_ACCESS, RESTRICTED"},
"calib_level":{"text":"Calibration Level","vot.datatype":"int","vot.description":"Calibration level","example":"0 = raw, 1 = uncalibrated, 2 = calibrated, 3 = science product, 4 = contributed science product"},
"filters":{"text":"Filters","vot.datatype":"char","separator":";","vot.description":"Instrument filters","example":"F469N, NUV, FUV, LOW DISP, MIRROR"}
}`

// serveColumnsConfig answers POST /portal/Mashup/Mashup.asmx/columnsconfig
// (raw body colConfigId=<service>): the recorded CAOM config for the
// observation services, the products config, and {} for anything else.
func (s *Server) serveColumnsConfig(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("colConfigId")
	if r.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if q, err := url.ParseQuery(string(body)); err == nil && q.Get("colConfigId") != "" {
			id = q.Get("colConfigId")
		}
	}
	switch strings.ToLower(strings.TrimSpace(id)) {
	case "mast.caom.cone", "mast.caom.filtered", "mast.caom.filtered.position":
		writeJSON(w, recordedFile("columnsconfig.json"))
	case "mast.caom.products":
		writeJSON(w, []byte(productsColumnsConfig))
	default:
		writeJSON(w, []byte("{}"))
	}
}
