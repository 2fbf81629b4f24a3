"""A Zope client of a ZEO server, for the ZEO mount tests: it changes and
reads the site through Zope's own API while zodbfs is mounted beside it.

usage: zeo_client.py ADDRESS COMMAND ARGS...
  ADDRESS          a unix socket path, or HOST:PORT
  add PATH FILE    manage_addFile at PATH (folder/id) with FILE's bytes
  update PATH FILE File.update_data with FILE's bytes
  sha256 PATH      prints the sha256 and size of the File at PATH
  add-many FOLDER PREFIX N
                   adds N small Files PREFIX0..PREFIX<N-1>, one transaction
                   each, retrying a transaction on ConflictError as Zope's
                   publisher does; prints the retries
Paths are below root['Application'].
"""
import hashlib
import sys

import transaction
import ZEO
from OFS.Image import manage_addFile
from ZODB.POSException import ConflictError


def open_app(address):
    if "/" in address:
        db = ZEO.DB(address)
    else:
        host, port = address.rsplit(":", 1)
        db = ZEO.DB((host, int(port)))
    return db


def traverse(app, path):
    obj = app
    for part in path.strip("/").split("/"):
        if part:
            obj = obj[part]
    return obj


def main(argv):
    address, command, args = argv[1], argv[2], argv[3:]
    db = open_app(address)
    try:
        if command == "add-many":
            folder_path, prefix, count = args[0], args[1], int(args[2])
            retries = 0
            for i in range(count):
                for attempt in range(20):
                    conn = db.open()
                    try:
                        folder = traverse(conn.root()["Application"], folder_path)
                        manage_addFile(folder, f"{prefix}{i}", file=f"{prefix}{i}\n".encode())
                        transaction.commit()
                        break
                    except ConflictError:
                        transaction.abort()
                        retries += 1
                    finally:
                        conn.close()
                else:
                    raise SystemExit(f"{prefix}{i}: too many conflicts")
            print(retries)
            return
        conn = db.open()
        app = conn.root()["Application"]
        if command == "add":
            folder_path, _, name = args[0].rpartition("/")
            with open(args[1], "rb") as f:
                manage_addFile(traverse(app, folder_path), name, file=f.read())
            transaction.commit()
        elif command == "update":
            with open(args[1], "rb") as f:
                traverse(app, args[0]).update_data(f.read())
            transaction.commit()
        elif command == "sha256":
            data = traverse(app, args[0]).data
            body = b""
            if isinstance(data, bytes):
                body = data
            else:
                while data is not None:
                    body += data.data
                    data = data.next
            print(hashlib.sha256(body).hexdigest(), len(body))
        else:
            raise SystemExit(f"unknown command {command}")
        conn.close()
    finally:
        db.close()


if __name__ == "__main__":
    main(sys.argv)
