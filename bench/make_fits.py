#!/usr/bin/python3
"""Deterministic FITS fixtures for bench/run.sh (from test-env.md section 7).

Usage: /usr/bin/python3 bench/make_fits.py OUTDIR

Writes OUTDIR/idtest01q_drz.fits (16,827,840 bytes: PRIMARY, SCI 2048x2048
float32 image, CATALOG binary table of 1000 rows) and OUTDIR/tess_test_lc.fits
(328,320 bytes). The output is byte-for-byte the same on every run (no
checksum=True, which stamps the time). Needs Debian's python3-astropy, so run
it with /usr/bin/python3, not a pyenv python.
"""
import sys

import numpy as np
from astropy.io import fits

out = sys.argv[1] if len(sys.argv) > 1 else "."
rng = np.random.default_rng(42)
ph = fits.PrimaryHDU()
for k, v in [("TELESCOP", "HST"), ("INSTRUME", "WFC3"), ("DETECTOR", "UVIS"),
             ("FILENAME", "idtest01q_drz.fits"), ("TARGNAME", "NGC-TEST")]:
    ph.header[k] = v
sci = fits.ImageHDU(rng.normal(100.0, 5.0, size=(2048, 2048)).astype(np.float32), name="SCI")
sci.header["BUNIT"] = "ELECTRONS/S"
tab = fits.BinTableHDU.from_columns([
    fits.Column(name="ID", format="J", array=np.arange(1000, dtype=np.int32)),
    fits.Column(name="RA", format="D", unit="deg", array=rng.uniform(0, 360, 1000)),
    fits.Column(name="DEC", format="D", unit="deg", array=rng.uniform(-90, 90, 1000)),
    fits.Column(name="FLUX", format="E", array=rng.uniform(0, 1e4, 1000).astype(np.float32)),
    fits.Column(name="NAME", format="16A", array=np.array(["src%05d" % i for i in range(1000)])),
], name="CATALOG")
fits.HDUList([ph, sci, tab]).writeto(f"{out}/idtest01q_drz.fits", overwrite=True)
ph2 = fits.PrimaryHDU()
ph2.header["TELESCOP"] = "TESS"
ph2.header["OBJECT"] = "TIC 12345678"
n = 20000
lc = fits.BinTableHDU.from_columns([
    fits.Column(name="TIME", format="D", unit="BJD - 2457000, days", array=np.linspace(1325.0, 1352.0, n)),
    fits.Column(name="SAP_FLUX", format="E", array=(1000 + rng.normal(0, 1, n)).astype(np.float32)),
    fits.Column(name="QUALITY", format="J", array=np.zeros(n, dtype=np.int32)),
], name="LIGHTCURVE")
fits.HDUList([ph2, lc]).writeto(f"{out}/tess_test_lc.fits", overwrite=True)
