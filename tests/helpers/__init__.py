"""Test helpers: a Range-honouring HTTP server and ffmpeg-generated test media."""
