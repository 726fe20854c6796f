"""Drive real astroquery.mast against a MAST emulator and report what it sees.

Usage: fidelity.py PLAN.json OUT.json

PLAN is {"server": URL, "token": str, "workdir": dir, "cases": [{"id", "op", "args"}]}.
OUT maps each case id to {"value": ...} or {"error": "<ExceptionType>: message"}.
Tables become lists of row dicts (masked values are null). The Go side
(fidelity_test.go) decides what is right; this script only reports.

Written for astroquery 0.4.6 (Debian bookworm): URLs are class attributes
built at import time, so they are patched here, and names resolve through
Mast.Name.Lookup at conf.server.
"""

import json
import math
import os
import sys
import warnings

import numpy as np
from astropy.coordinates import SkyCoord

import astroquery
from astroquery.mast import conf
from astroquery.mast import discovery_portal
from astroquery.mast import ObservationsClass, MastClass


def point_at(server):
    conf.server = server  # read at call time by name resolution and MastAuth
    api = discovery_portal.PortalAPI
    api.MAST_REQUEST_URL = server + "/api/v0/invoke"
    api.COLUMNS_CONFIG_URL = server + "/portal/Mashup/Mashup.asmx/columnsconfig"
    api.MAST_DOWNLOAD_URL = server + "/api/v0.1/Download/file"
    api.MAST_BUNDLE_URL = server + "/api/v0.1/Download/bundle"
    api._column_configs = dict()
    obs = ObservationsClass()
    obs.disable_cloud_dataset()
    return obs, MastClass()


def plain(v):
    """A JSON-able Python value for one table cell."""
    if v is np.ma.masked or isinstance(v, np.ma.core.MaskedConstant):
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else f
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.str_):
        return str(v)
    return v


def rows(table):
    return [{name: plain(row[name]) for name in table.colnames} for row in table]


def coords(a):
    return SkyCoord(a["ra"], a["dec"], unit="deg")


def criteria(a):
    kw = dict(a)
    if "coordinates" in kw:
        kw["coordinates"] = coords(kw["coordinates"])
    return kw


def product_table(obs, a):
    """get_product_list of a query result, an obsid list, or one obsid string."""
    if "query" in a:
        q = a["query"]
        if "coordinates" in q:
            table = obs.query_region(coords(q["coordinates"]), radius=q["radius"])
        else:
            table = obs.query_criteria(**criteria(q))
        return obs.get_product_list(table)
    if "obsids" in a:
        return obs.get_product_list(np.array(a["obsids"], dtype=str))
    return obs.get_product_list(a["obsid"])


def run(obs, mast, case, plan):
    op, a = case["op"], case.get("args", {})
    if op == "list_missions":
        return obs.list_missions()
    if op == "get_metadata":
        return rows(obs.get_metadata(a["query_type"]))
    if op == "query_criteria":
        return rows(obs.query_criteria(**criteria(a)))
    if op == "query_region":
        return rows(obs.query_region(coords(a["coordinates"]), radius=a["radius"]))
    if op == "query_object":
        return rows(obs.query_object(a["objectname"], radius=a["radius"]))
    if op == "query_criteria_count":
        return int(obs.query_criteria_count(**criteria(a)))
    if op == "query_region_count":
        return int(obs.query_region_count(coords(a["coordinates"]), radius=a["radius"]))
    if op == "query_object_count":
        return int(obs.query_object_count(a["objectname"], radius=a["radius"]))
    if op == "service_request":
        return rows(mast.service_request(a["service"], a["params"], pagesize=a.get("pagesize"), page=a.get("page")))
    if op == "get_product_list":
        return rows(product_table(obs, a))
    if op == "filter_products":
        prods = product_table(obs, a)
        return rows(obs.filter_products(prods, mrp_only=a.get("mrp_only", False),
                                        extension=a.get("extension"), **a.get("filters", {})))
    if op == "login":
        obs.login(token=a.get("token", plan["token"]))
        info = obs.session_info(verbose=False)
        return {"authenticated": bool(obs._authenticated), "ezid": info["ezid"], "anon": info["anon"]}
    if op == "download_file":
        path = os.path.join(plan["workdir"], a["local_name"])
        status, msg, url = obs.download_file(a["uri"], local_path=path, cache=False)
        return {"status": status, "msg": msg, "url": url, "path": path if os.path.isfile(path) else None}
    if op == "download_products":
        prods = product_table(obs, a)
        manifest = obs.download_products(prods, download_dir=os.path.join(plan["workdir"], a["dir"]),
                                         mrp_only=a.get("mrp_only", False), **a.get("filters", {}))
        return rows(manifest)
    raise ValueError("unknown op " + op)


def main():
    plan = json.load(open(sys.argv[1]))
    obs, mast = point_at(plan["server"])
    out = {"astroquery_version": astroquery.__version__, "results": {}}
    for case in plan["cases"]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = {"value": run(obs, mast, case, plan)}
            except Exception as err:  # reported, judged by the Go test
                res = {"error": "%s: %s" % (type(err).__name__, err)}
        res["warnings"] = [str(w.message) for w in caught]
        out["results"][case["id"]] = res
    json.dump(out, open(sys.argv[2], "w"), indent=1)


if __name__ == "__main__":
    main()
