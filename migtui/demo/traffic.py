"""Simulated application traffic: a few threads running the shop's reads and writes.

This is what the gauges measure in the demo. Each worker runs at a steady rate, with a
seeded random generator, so the story repeats the same way each run. The workers are the
"application": they connect as ``application_name=shop-app`` and know nothing of migtui.
The writes touch ``orders``, the table the demo backfills (a new order, and an older one
marked shipped), so the backfill's batches meet the application's writers.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import psycopg

READS = [
    # the order history page: needs orders_customer_id_idx
    ("SELECT id, created_at, total_cents FROM orders WHERE customer_id = %(c)s "
     "ORDER BY created_at DESC LIMIT 20", "c"),
    ("SELECT sku, quantity, price_cents FROM order_items WHERE order_id = %(o)s", "o"),
    ("SELECT id, email, full_name FROM customers WHERE id = %(c)s", "c"),
]


@dataclass
class TrafficStats:
    ok: int = 0
    failed: int = 0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, ok: bool, error: str = "") -> None:
        with self.lock:
            if ok:
                self.ok += 1
            else:
                self.failed += 1
                self.last_error = error


class Traffic:
    """``workers`` threads, each doing ``rate`` operations per second (reads and writes)."""

    def __init__(self, dsn: str, *, workers: int = 4, rate: float = 20.0, seed: int = 42,
                 customers: int = 20_000, orders: int = 1_000_000,
                 write_share: float = 0.2) -> None:
        self.dsn = dsn
        self.workers = workers
        self.rate = rate
        self.seed = seed
        self.customers = customers
        self.orders = orders
        self.write_share = write_share
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Traffic:
        for i in range(self.workers):
            t = threading.Thread(target=self._run, args=(i,), name=f"shop-app-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _connect(self) -> psycopg.Connection | None:
        try:
            conn = psycopg.connect(self.dsn, application_name="shop-app", connect_timeout=5,
                                   autocommit=True)
            conn.execute("SET statement_timeout = '5s'")
            return conn
        except psycopg.Error as e:
            self.stats.count(False, str(e).strip().splitlines()[0])
            return None

    def _run(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        period = 1.0 / self.rate if self.rate > 0 else 1.0
        conn = self._connect()
        next_at = time.monotonic()
        while not self._stop.is_set():
            if conn is None or conn.closed:
                if self._stop.wait(0.5):
                    break
                conn = self._connect()
                continue
            try:
                if rng.random() < self.write_share:
                    self._write(conn, rng)
                else:
                    sql, arg = READS[rng.randrange(len(READS))]
                    val = rng.randint(1, self.customers if arg == "c" else self.orders)
                    conn.execute(sql, {arg: val}).fetchall()
                self.stats.count(True)
            except psycopg.OperationalError as e:
                self.stats.count(False, str(e).strip().splitlines()[0])
                conn.close()
            except psycopg.Error as e:
                self.stats.count(False, str(e).strip().splitlines()[0])
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                if self._stop.wait(delay):
                    break
            else:
                next_at = time.monotonic()  # fell behind: do not burst to catch up
        if conn is not None:
            conn.close()

    def _write(self, conn: psycopg.Connection, rng: random.Random) -> None:
        customer = rng.randint(1, self.customers)
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO orders (customer_id, total_cents) VALUES (%s, %s) RETURNING id",
                (customer, rng.randint(100, 20000))).fetchone()
            assert row is not None
            conn.execute(
                "INSERT INTO order_items (order_id, sku, quantity, price_cents) "
                "VALUES (%s, %s, %s, %s)",
                (row[0], f"SKU-{rng.randrange(500)}", rng.randint(1, 3), rng.randint(100, 5000)))
            conn.execute("UPDATE orders SET shipped_at = now() WHERE id = %s",
                         (rng.randint(1, self.orders),))


def failing_transactions(dsn: str, stop: threading.Event) -> None:
    """A broken application: transactions that fail and roll back until ``stop`` is set.

    Short-lived connections, as many apps have: a busy backend may hold back its
    statistics for a long time, and a connection flushes them when it ends."""
    while not stop.is_set():
        with psycopg.connect(dsn, autocommit=True, application_name="shop-app") as c:
            end = time.monotonic() + 0.5
            while time.monotonic() < end and not stop.is_set():
                try:
                    with c.transaction():
                        c.execute("SELECT 1 / 0")
                except psycopg.errors.DivisionByZero:
                    time.sleep(0.005)
