# mjnb in marimo: the same live card as in Jupyter (an anywidget), on the built-in simulator unless
# MJNB_BASE_URL and MJNB_API_KEY name a relay.  Run:  marimo edit notebooks/quickstart_marimo.py
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo

    import mjnb
    return mjnb, mo


@app.cell
def _(mo):
    mo.md(
        """
        # mjnb in marimo

        The cell below returns at once; its card then fills its bar, shows the preview and the final
        grid, and offers the server's buttons. Click **U1**: the child joins the card's strip.
        """
    )
    return


@app.cell
def _(mjnb):
    t = mjnb.imagine("a lighthouse at dusk, oil painting --ar 3:2")
    t.card
    return (t,)


@app.cell
def _(mo):
    mo.md("`t.wait()` blocks only this cell; the card keeps updating. The history is a DataFrame:")
    return


@app.cell
def _(mjnb, t):
    t.wait(timeout=300)
    mjnb.history()[["id", "action", "status", "prompt"]].tail(3)
    return


if __name__ == "__main__":
    app.run()
