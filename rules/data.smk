rule download_cifar10:
    output:
        train="resources/cifar10/data_batch_1",
        test="resources/cifar10/test_batch_trim",
        meta="resources/cifar10/batches.meta",
    log:
        "logs/download_cifar10.log",
    retries: 2
    conda:
        "../envs/study.yaml"
    params:
        url=STUDY["download"]["url"],
        md5=STUDY["download"]["md5"],
    script:
        "../scripts/download_cifar10.py"


rule prepare_text:
    input:
        train=STUDY["text"]["train_csv"],
        test=STUDY["text"]["test_csv"],
    output:
        char="results/part_b/data/char_ids.npz",
        word="results/part_b/data/word_ids.npz",
        vocabulary="results/part_b/data/vocabulary.json",
    log:
        "logs/prepare_text.log",
    conda:
        "../envs/study.yaml"
    params:
        length=STUDY["text"]["length"],
        min_count=STUDY["text"]["min_word_count"],
        max_vocabulary=STUDY["text"]["max_vocabulary"],
    script:
        "../scripts/prepare_text.py"
