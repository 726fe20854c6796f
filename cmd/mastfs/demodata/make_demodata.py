#!/usr/bin/python3
"""Writes the small multi-HDU FITS files of `mastfs demo` (deterministic).

They are shaped like the HST STIS products of proposal 8880 (EV Lac) in the
recorded catalog: an x1d spectrum (PRIMARY + SCI table) and two images
(PRIMARY + SCI, ERR, DQ). The pixel values are synthetic. Run from this
directory with /usr/bin/python3 (astropy, numpy); the output is byte-for-byte
the same on every run.
"""
import numpy as np
from astropy.io import fits

RNG = np.random.default_rng(8880)


def primary(rootname, filetype):
    h = fits.Header()
    h["TELESCOP"] = ("HST", "telescope used to acquire data")
    h["INSTRUME"] = ("STIS", "identifier for instrument used to acquire data")
    h["DETECTOR"] = ("CCD", "detector in use")
    h["ROOTNAME"] = (rootname, "rootname of the observation set")
    h["FILETYPE"] = (filetype, "type of data found in data file")
    h["PROPOSID"] = (8880, "PEP proposal identifier")
    h["TARGNAME"] = ("EV-LAC", "proposer's target name")
    h["RA_TARG"] = (341.7067159883, "right ascension of the target (deg) (J2000)")
    h["DEC_TARG"] = (44.33381826126, "declination of the target (deg) (J2000)")
    h["OPT_ELEM"] = ("G430L", "optical element in use")
    h["ORIGIN"] = ("mastfs demo", "synthetic data, real layout")
    return fits.PrimaryHDU(header=h)


def image(rootname, filetype, n):
    sky = RNG.normal(20.0, 3.0, (n, n)).astype(np.float32)
    y, x = np.mgrid[0:n, 0:n]
    star = 5000.0 * np.exp(-((x - n / 2) ** 2 + (y - n / 2) ** 2) / 8.0)
    sci = fits.ImageHDU((sky + star).astype(np.float32), name="SCI")
    err = fits.ImageHDU(np.sqrt(np.abs(sci.data)).astype(np.float32), name="ERR")
    dq = fits.ImageHDU((RNG.random((n, n)) < 0.01).astype(np.int16) * 16, name="DQ")
    for h in (sci, err, dq):
        h.header["EXTVER"] = 1
        h.header["BUNIT"] = "COUNTS" if h.name != "DQ" else "UNITLESS"
    return fits.HDUList([primary(rootname, filetype), sci, err, dq])


def spectrum(rootname, n):
    wave = np.linspace(2900.0, 5700.0, n)
    flux = (1e-14 * (1 + 0.2 * np.sin(wave / 100.0)) + RNG.normal(0, 1e-16, n)).astype(np.float32)
    cols = [
        fits.Column(name="WAVELENGTH", format=f"{n}D", unit="Angstroms", array=wave[None, :]),
        fits.Column(name="FLUX", format=f"{n}E", unit="erg/s/cm**2/Angstrom", array=flux[None, :]),
        fits.Column(name="ERROR", format=f"{n}E", unit="erg/s/cm**2/Angstrom", array=np.abs(flux[None, :]) * 0.05),
    ]
    sci = fits.BinTableHDU.from_columns(cols, name="SCI")
    sci.header["EXTVER"] = 1
    return fits.HDUList([primary(rootname, "SCI"), sci])


spectrum("o6au01msq", 1024).writeto("o6au01msq_x1d.fits", overwrite=True)
image("o6au01mtq", "SCI", 96).writeto("o6au01mtq_crj.fits", overwrite=True)
image("o6au01muq", "SCI", 64).writeto("o6au01muq_sx2.fits", overwrite=True)
