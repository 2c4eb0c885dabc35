"""The floor: the least a Flask page can do for a list (50 rows by raw SQL in a plain Jinja table).

Newest first by primary key, which every database has an index for: the floor must not depend on indexes
the app may still lack (the app's sort is the app's to make fast).
"""

import os

import psycopg
from flask import Flask, render_template_string, request

SQL = """SELECT e.id, e.name, e.uscc, a.name_zh, e.stage, e.updated_at FROM enterprises e
JOIN areas a ON a.id = e.area_id WHERE e.stage = %s ORDER BY e.id DESC LIMIT 50"""
PAGE = """<!doctype html><title>floor</title><table>{% for r in rows %}<tr><td>{{ r[0] }}</td><td>{{ r[1] }}</td>
<td>{{ r[2] }}</td><td>{{ r[3] }}</td><td>{{ r[4] }}</td><td>{{ r[5] }}</td></tr>{% endfor %}</table>"""
app = Flask(__name__)
connection = None


@app.get("/")
def rows():
    global connection
    if connection is None:  # one connection per worker process, opened after the fork
        connection = psycopg.connect(os.environ["BENCH_FLOOR_DSN"], autocommit=True)
    return render_template_string(PAGE, rows=connection.execute(SQL, (request.args.get("stage", "cultivating"),)))
