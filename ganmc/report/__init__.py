"""The report: its numbers and images (:mod:`~ganmc.report.data`), and their drawing
(:mod:`~ganmc.report.render`, matplotlib's Agg, offline). :mod:`~ganmc.report.style` holds
the colours and axis ranges that the dashboard's Plotly charts share with it.
"""
