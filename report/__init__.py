"""KOS's report of a metrics run: text for the terminal, CSV files, PNG charts and one self-contained HTML page.

    render.py   the text and the HTML (every string from a log escaped, nothing fetched), and the files
    charts.py   the charts (bars, starts over time, heat map) and CSV tables
    spans.py    the step that suits a span, the busiest hosts and the others, starts by hour of day
"""
