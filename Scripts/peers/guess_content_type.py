"""What Zope 6 guesses as a content type (`zope.contenttype.guess_content_type`,
which `OFS.Image.File._get_content_type` calls), with Python's `mimetypes`
limited to its built-in table plus zope.contenttype's own `mime.types`:
the system's /etc/mime.types (and the other `mimetypes.knownfiles`) are not
read, which is the table zodbfs embeds.

usage:
  guess_content_type.py table    prints {"strict", "common", "encodings", "suffixes"}:
                                 the maps `mimetypes.guess_type` consults
  guess_content_type.py guess CASES_JSON
                                 reads a JSON list of {"name", "body" (hex),
                                 "default" (str or null)} from the file and
                                 prints the list of [type, encoding] results
"""
import json
import mimetypes
import sys

# Must happen before zope.contenttype is imported: it appends its mime.types
# to `knownfiles`, and the first lookup initialises mimetypes from that list.
assert not mimetypes.inited
mimetypes.knownfiles[:] = []

from zope.contenttype import guess_content_type  # noqa: E402


def main(mode, cases=None):
    mimetypes.init()
    if mode == 'table':
        db = mimetypes._db
        json.dump({
            'strict': db.types_map[True],
            'common': db.types_map[False],
            'encodings': db.encodings_map,
            'suffixes': db.suffix_map,
        }, sys.stdout, sort_keys=True)
    elif mode == 'guess':
        out = []
        with open(cases) as f:
            cases = json.load(f)
        for case in cases:
            out.append(list(guess_content_type(
                case['name'], bytes.fromhex(case['body']), case.get('default'))))
        json.dump(out, sys.stdout)
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(*sys.argv[1:3])
