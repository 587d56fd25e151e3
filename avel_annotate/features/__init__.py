"""VGG-19 pool5 / ResNet-18 and VGGish feature extraction (torch), feature files, AVE h5 I/O.

Modules: ``vgg`` (visual trunks + preprocessing), ``vggish`` (log-mel front end + network),
``weights`` (resolution, sha256, strict loaders), ``extract`` (the :class:`Extractor` pipeline),
``store_files`` (per-clip ``.npz``), ``provenance``, ``ave_h5``. Nothing is imported here, so
importing the package costs nothing; see docs/features.md.
"""
