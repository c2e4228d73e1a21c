"""``loco count``: label audio by counting, in a local web page that writes the counts manifest."""

from __future__ import annotations

from pathlib import Path

import typer

from loco_cli.labelling import DEFAULT_SNIPPET_S

#: The port ``loco count`` listens on unless told otherwise.
DEFAULT_PORT = 8765


def count_command(
    audio_dir: Path = typer.Argument(..., help="Folder of audio to label (searched recursively)."),
    classes: str = typer.Option(..., help="Classes to count, comma-separated, e.g. KD,SD,HH."),
    out: Path = typer.Option(..., help="Counts manifest to write (CSV that loco prepare reads); an existing one is resumed."),
    snippet_length: float = typer.Option(DEFAULT_SNIPPET_S, help="Seconds per snippet."),
    port: int = typer.Option(DEFAULT_PORT, min=0, max=65535, help="Local port of the page (0: any free one)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (127.0.0.1: this machine only)."),
    model: str = typer.Option(None, help="Pre-fill each snippet with this model's counts, show its detections and offer "
                                         "the snippets it is least sure about first (drums, piano, a model file or a run)."),
    review: str = typer.Option(None, metavar="FIRST.csv,SECOND.csv",
                               help="Offer only the snippets where these two manifests disagree; answers go to --out."),
    annotator: str = typer.Option(None, help="Name written in the manifest's _by column (default: the user name)."),
    open_browser: bool = typer.Option(True, "--open/--no-open", help="Open the page in the web browser."),
    device: str = typer.Option("cpu", help="cpu, cuda or auto (with --model)."),
) -> None:
    """Label audio by counting in a local web page: one snippet at a time, counts from the keyboard.

    Every answer is written to the counts manifest at once."""
    import getpass
    import webbrowser

    from rich.console import Console
    from rich.text import Text

    from loco_cli.cli._common import fail_on_error
    from loco_cli.cli.count_server import CountApp, start_server
    from loco_cli.errors import InvalidOption
    from loco_cli.labelling import CountStore, disagreements, list_snippets

    console = Console(stderr=True)
    with fail_on_error(console):
        names = [c.strip() for c in classes.split(",") if c.strip()]
        store = CountStore(out, names)
        snippets, problems = list_snippets(audio_dir, out, snippet_length)
        for p in problems:
            console.print(Text.assemble(("skipped", "yellow"), " ", p), highlight=False, soft_wrap=True)
        if not snippets:
            raise InvalidOption(f"{audio_dir}: no readable audio to count in")
        app = CountApp(snippets, store, list(range(len(snippets))), problems,
                       annotator=annotator if annotator is not None else getpass.getuser())
        if review:
            parts = [p.strip() for p in review.split(",")]
            if len(parts) != 2:
                raise InvalidOption(f"--review {review}: give two manifests, FIRST.csv,SECOND.csv")
            app.review = disagreements(parts[0], parts[1], names, snippets)
            app.order = sorted(app.review)
            app.review_label = f"{Path(parts[0]).name} vs {Path(parts[1]).name}, {len(app.order)} disagreements"
        if model:
            from loco_cli.checkpoint import load_model
            from loco_cli.cli._common import progress, use_thread_policy
            from loco_cli.devices import resolve_device
            from loco_cli.labelling import model_suggestions

            use_thread_policy()
            dev = resolve_device(device)
            loaded = load_model(model, dev)
            with progress(console) as bar:
                task = bar.add_task("model", total=len({s.audio for s in snippets}), info="")
                app.suggestions = model_suggestions(loaded, snippets, names, device=dev,
                                                    on_file=lambda f: bar.update(task, advance=1, info=f.name))
            if not review:  # the snippets the model is least sure about first (active learning)
                app.order = sorted(app.order, key=lambda i: (-app.suggestions[i]["uncertainty"], i))
            app.model_label = Path(model).name
        try:
            server = start_server(app, host, port)
        except OSError as err:
            raise InvalidOption(f"port {port} on {host} is not free ({err.strerror or err}); pass --port N "
                                "(0 picks a free one)") from None
    url = f"http://{host}:{server.server_address[1]}/"
    state = app.state()
    console.print(f"{state['total']} snippets of {snippet_length:g} s ({state['answered']} counted) -> {out}",
                  highlight=False, soft_wrap=True)
    console.print(f"counting page: {url}  (Ctrl+C stops; every answer is already saved)", highlight=False,
                  soft_wrap=True)
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    console.print(f"{app.state()['answered']} of {state['total']} snippets counted -> {out}", highlight=False,
                  soft_wrap=True)
