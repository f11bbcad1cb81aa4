"""The report stage: the study's one-file HTML report (results/report.html,
rule html_report), rendered from report/template.html.j2 with the tables and
figures of the analysis stage (nnstudy.analysis). Each module imports only the
ones listed before it:

- provenance: git commit, software versions, devices and compute time;
- cells: tables as text cells for the template;
- html: what the template shows, the rendering and the job.

"Report" means this HTML report throughout; Snakemake's own report
(`snakemake --report`) only takes its captions from report/*.rst.
"""
