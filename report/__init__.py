"""KOS's report of a metrics run: text for the terminal, CSV files, PNG charts and one self-contained HTML page.

    render.py   the text and the HTML (every string from a log escaped, nothing fetched), and the files
    charts.py   the charts and CSV tables
"""
