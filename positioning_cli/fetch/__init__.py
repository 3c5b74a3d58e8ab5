"""Downloading the public sources: ``positioning fetch``, ``update``, ``calendar`` and ``config``.

Modules: ``http`` (the polite client), ``config`` (settings and where each came from), ``calendar``
(release rules on the NYSE calendar), ``raw`` (payloads kept under ``STORE/raw/``), ``sources``
(one small class per source), ``run`` (fetch -> validate -> keep -> ``api.ingest``).

Nothing heavy is imported here: the CLI imports this package for ``--help``.

Adding a source (e.g. SEC shares, iShares/Invesco members, Yahoo prices) is one subclass of
``sources.Source`` registered in ``sources.SOURCES``:

1. ``name`` (raw folder), ``label``, ``kind`` (the ``positioning ingest`` kind whose parser reads the
   payload: "shares", "members", "prices", ...) and ``min_interval`` per host;
2. ``items(ctx, since, until)``: one ``Item(key, url, name, expected)`` per payload;
3. ``expected(now)`` (the calendar's ``Expected`` entries) and ``held(manifest)`` (keys the store holds);
4. ``validate(item, reply)``: call ``super().validate`` (empty body, HTML), then the format's header,
   row bounds and that the dates match the key; raise ``FetchError`` naming the source and URL;
5. optionally ``unpublished(reply)`` (statuses meaning "not out yet") and extra request headers.

``positioning update`` runs every registered source; ``fetch`` subcommands name one.
"""
