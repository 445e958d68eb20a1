# The swarm's priors per view ({setting}{view}): tokens per group and the natural distribution, from the
# packed data. The swarm's draw, its proxies and the laws fitted on them are fit steps (rule fit) and
# training jobs (rule train); the law table sets the fitted laws' proposals side by side.


rule priors:
    input:
        lambda wc: [R(paths.group_files(g)[0]) for g in PROJECT.settings[view_of(wc)].groups],
    output:
        R(paths.priors_file(VIEW)),
    params:
        groups=lambda wc: shlex.join(PROJECT.settings[view_of(wc)].groups),
        natural=get_priors_natural,
    log:
        R(paths.log(paths.priors_file(VIEW).removesuffix(".json"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix priors --data-dir {shlex.quote(DATA)} --groups {{params.groups}} "
        "{params.natural} --out {output:q} > {log:q} 2>&1"


rule law_table:
    input:
        get_law_table_fits,
    output:
        csv=R(paths.table(VIEW, f"{paths.LAW_TABLE}.csv")),
        md=R(paths.table(VIEW, f"{paths.LAW_TABLE}.md")),
        tex=R(paths.table(VIEW, f"{paths.LAW_TABLE}.tex")),
        html=setting_report(R(paths.table(VIEW, f"{paths.LAW_TABLE}.html")), paths.LAW_TABLE),
    params:
        out=lambda wc, output: output.csv.removesuffix(".csv"),
        title=lambda wc: f"Olmix: {view_of(wc)}",
    log:
        R(paths.log(f"{VIEW}/olmix_table")),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix table --fits {{input:q}} --title {{params.title:q}} --out {{params.out:q}} "
        "> {log:q} 2>&1"
