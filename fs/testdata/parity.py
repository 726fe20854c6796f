"""List what astroquery.mast gives for query directories, for fs/parity_test.go.

Usage: parity.py PLAN.json OUT.json

PLAN is {"server": URL, "cases": [{"id", "criteria", "mrp_only", "extension",
"filters"}]}. For each case: query_criteria(**criteria), get_product_list,
filter_products(mrp_only, extension, **filters), then the unique products by
dataURI (first kept, as get_unique_product_list), and query_criteria_count.
OUT maps each case id to {"count": n, "products": [[dataURI,
productFilename], ...]} or {"error": "<ExceptionType>: message"}.
"coordinates" in criteria is {"ra", "dec"} in degrees.

Written for astroquery 0.4.6 (Debian bookworm), pointed at the emulator as
mast/mastemu/testdata/fidelity.py does.
"""

import json
import sys
import warnings

from astropy.coordinates import SkyCoord

import astroquery
from astroquery.mast import conf, discovery_portal, ObservationsClass


def point_at(server):
    conf.server = server
    api = discovery_portal.PortalAPI
    api.MAST_REQUEST_URL = server + "/api/v0/invoke"
    api.COLUMNS_CONFIG_URL = server + "/portal/Mashup/Mashup.asmx/columnsconfig"
    api.MAST_DOWNLOAD_URL = server + "/api/v0.1/Download/file"
    api.MAST_BUNDLE_URL = server + "/api/v0.1/Download/bundle"
    api._column_configs = dict()
    obs = ObservationsClass()
    obs.disable_cloud_dataset()
    return obs


def criteria(case):
    kw = dict(case["criteria"])
    if "coordinates" in kw:
        c = kw["coordinates"]
        kw["coordinates"] = SkyCoord(c["ra"], c["dec"], unit="deg")
    return kw


def run(obs, case):
    observations = obs.query_criteria(**criteria(case))
    products = obs.get_product_list(observations)
    products = obs.filter_products(products, mrp_only=case.get("mrp_only", False),
                                   extension=case.get("extension"), **case.get("filters", {}))
    seen, unique = set(), []
    for row in products:
        uri = str(row["dataURI"])
        if uri not in seen:
            seen.add(uri)
            unique.append([uri, str(row["productFilename"])])
    return {"count": int(obs.query_criteria_count(**criteria(case))), "products": unique}


def main():
    plan = json.load(open(sys.argv[1]))
    obs = point_at(plan["server"])
    out = {"astroquery_version": astroquery.__version__, "results": {}}
    for case in plan["cases"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = run(obs, case)
            except Exception as err:  # reported, judged by the Go test
                res = {"error": "%s: %s" % (type(err).__name__, err)}
        out["results"][case["id"]] = res
    json.dump(out, open(sys.argv[2], "w"), indent=1)


if __name__ == "__main__":
    main()
