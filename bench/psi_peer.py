"""The PSI peer of `bidui bench compare`: OpenMined's ECDH PSI (PyPI `openmined.psi`)
between two sets of identity numbers, one per line in each file.

The client (the registry) learns which of its numbers the server (a department) holds
(`reveal_intersection=True`); both parties run here, one after the other, and every
message goes through its serialized bytes as it would over the wire. Prints one JSON
line: the sizes, the intersection, the seconds of each protocol step (and their CPU
seconds, all threads) and the bytes sent.
`bidui bench compare` parses it; keep the keys stable.
"""

import argparse
import json
import sys
import time

import private_set_intersection.python as psi


def read_set(path):
    with open(path, encoding="ascii") as f:
        return [line.strip() for line in f if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("client", help="the client's (registry's) identity numbers, one per line")
    parser.add_argument("server", help="the server's (department's) identity numbers, one per line")
    # The false-positive rate of the server's setup message (the library's README uses 1e-9).
    parser.add_argument("--fpr", type=float, default=1e-9)
    args = parser.parse_args()

    started = time.perf_counter()
    client_items = read_set(args.client)
    server_items = read_set(args.server)
    read_seconds = time.perf_counter() - started

    client = psi.client.CreateWithNewKey(True)
    server = psi.server.CreateWithNewKey(True)
    stages = {}
    cpu = time.process_time()

    t = time.perf_counter()
    setup_bytes = server.CreateSetupMessage(args.fpr, len(client_items), server_items).SerializeToString()
    stages["setup"] = time.perf_counter() - t

    t = time.perf_counter()
    request_bytes = client.CreateRequest(client_items).SerializeToString()
    stages["request"] = time.perf_counter() - t

    t = time.perf_counter()
    request = psi.Request()
    request.ParseFromString(request_bytes)
    response_bytes = server.ProcessRequest(request).SerializeToString()
    stages["response"] = time.perf_counter() - t

    t = time.perf_counter()
    setup = psi.ServerSetup()
    setup.ParseFromString(setup_bytes)
    response = psi.Response()
    response.ParseFromString(response_bytes)
    found = client.GetIntersection(setup, response)
    stages["intersection"] = time.perf_counter() - t
    cpu_seconds = time.process_time() - cpu

    json.dump(
        {
            "peer": "openmined.psi",
            "version": psi.__version__,
            "client_size": len(client_items),
            "server_size": len(server_items),
            "intersection": len(set(found)),
            "seconds": sum(stages.values()),
            "cpu_seconds": cpu_seconds,
            "stages": stages,
            "read_seconds": read_seconds,
            "bytes": {"setup": len(setup_bytes), "request": len(request_bytes), "response": len(response_bytes)},
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
