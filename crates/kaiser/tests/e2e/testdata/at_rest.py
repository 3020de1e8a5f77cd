"""Encryption at rest in kube-apiserver's formats, written with the
`cryptography` package (an implementation independent of kaiser's), to
check that an etcd either server wrote reads in the other.

  at_rest.py open  <provider> <key b64> <etcd key> <stored value hex>  -> plain value
  at_rest.py seal  <provider> <key name> <key b64> <etcd key> <plain>  -> stored value hex
"""
import base64
import os
import sys

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def open_value(provider, key, etcd_key, stored):
    head = b"k8s:enc:" + provider.encode() + b":v1:"
    assert stored.startswith(head), stored[:40]
    body = stored[len(head):].split(b":", 1)[1]
    if provider == "aescbc":
        iv, data = body[:16], body[16:]
        dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = dec.update(data) + dec.finalize()
        unpad = padding.PKCS7(128).unpadder()
        return unpad.update(padded) + unpad.finalize()
    if provider == "aesgcm":
        return AESGCM(key).decrypt(body[:12], body[12:], etcd_key.encode())
    raise SystemExit("unknown provider " + provider)


def seal_value(provider, name, key, etcd_key, plain):
    head = b"k8s:enc:" + provider.encode() + b":v1:" + name.encode() + b":"
    if provider == "aescbc":
        iv = os.urandom(16)
        pad = padding.PKCS7(128).padder()
        padded = pad.update(plain) + pad.finalize()
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return head + iv + enc.update(padded) + enc.finalize()
    if provider == "aesgcm":
        nonce = os.urandom(12)
        return head + nonce + AESGCM(key).encrypt(nonce, plain, etcd_key.encode())
    raise SystemExit("unknown provider " + provider)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "open":
        _, _, provider, key, etcd_key, stored = sys.argv
        out = open_value(provider, base64.b64decode(key), etcd_key, bytes.fromhex(stored))
        sys.stdout.write(out.decode())
    else:
        _, _, provider, name, key, etcd_key, plain = sys.argv
        out = seal_value(provider, name, base64.b64decode(key), etcd_key, plain.encode())
        sys.stdout.write(out.hex())
