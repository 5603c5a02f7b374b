"""Media handling shared by the services: Matroska/EBML read incrementally and written
(``ebml``, ``mkv``), files remuxed into PutMedia bodies with PyAV (``source``), a PutMedia
producer (``producer``) and synthetic test media (``testsrc``)."""
