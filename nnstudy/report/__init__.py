"""The report stage: the study's one-file HTML report (results/report.html,
rule html_report), rendered from report/template.html.j2 with the tables and
figures of the analysis stage (nnstudy.analysis). Each module imports only the
ones listed before it:

- provenance: git commit, software versions, devices and compute time;
- scope: what the study covers and leaves out, and what its preset means;
- cells: tables as cells of text lines for the template, verdicts by question;
- html: what the template shows, the rendering and the job.

"Report" means this HTML report throughout; Snakemake's own report
(`snakemake --report`) only takes its captions from report/*.rst.
"""
