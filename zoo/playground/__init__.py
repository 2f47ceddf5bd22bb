"""The TensorFlow Playground in the browser, training zoo's real MLP: ``python -m zoo.playground``.

``session.py`` trains one page's configuration (zoo's model, task, data and optimizer, stepped in a
thread); ``server.py`` is the web server (Starlette on uvicorn) with the page's WebSocket;
``__main__.py`` the command; ``static/`` the page itself (plain HTML, CSS and JavaScript, no build step).
Needs the ``playground`` extra: ``pip install 'zoo[playground]'``.
"""
