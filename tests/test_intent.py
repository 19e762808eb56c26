"""What a request asks for, read from its words: each heuristic over the request pinned by
a request it must catch and, where it is easy to over-match, one it must leave alone."""

from __future__ import annotations

import dataclasses

import pytest

from babel.compiler.intent import Intent, Shape, intent, wants_edit
from babel.compiler.shape import checks_for, result_problem


@pytest.mark.parametrize(("request_text", "shape"), [
    ("how many lines are in poem.txt?", Shape.NUMBER),
    ("what is the total size of the logs?", Shape.NUMBER),
    ("print the average with two decimal places", Shape.DECIMALS),
    ("list the users alphabetically", Shape.SORTED),
    ("is the port open? answer yes or no", Shape.YES_NO),
    ("show the matching lines of app.log", Shape.NOT_A_COUNT),
    ("list the python files, base names only", Shape.BARE_NAMES),
    ("print the paths relative to the workspace", Shape.RELATIVE_PATHS),
    ("print only the version", Shape.ONE_LINE),
    ("which user has the most files? tell me", Shape.ONE_LINE),
    ("print one number per line", Shape.NUMBER_LINES),
    ("which files mention TODO?", Shape.FILE_PATHS),
    ("extract the email addresses", Shape.EMAILS),
    ("extract every ip address from access.log", Shape.IP_ADDRESSES),
    ("extract the urls from links.md", Shape.URLS),
    ("print the lines of notes.txt that say 'deadline'", Shape.QUOTED),
])
def test_each_answer_shape_is_read_from_its_words(request_text: str, shape: Shape) -> None:
    assert shape in intent(request_text).shapes


@pytest.mark.parametrize(("request_text", "shape"), [
    ("list the number of lines of each file", Shape.NUMBER),  # a list of counts, not one number
    ("how many email addresses are there?", Shape.EMAILS),  # a count of them, not the addresses
    ("how many line numbers are there?", Shape.NUMBER_LINES),
    ("show the matching lines and their count", Shape.NOT_A_COUNT),
    ("which files have more than 10 lines?", Shape.FILE_PATHS),  # "lines": a file's lines may be asked for
    ("print the lines of notes.txt that mention 'deadline' with their file names", Shape.QUOTED),
    ("the relative order of the lines", Shape.RELATIVE_PATHS),
])
def test_answer_shapes_stay_away_from_requests_that_only_resemble_them(request_text: str, shape: Shape) -> None:
    assert shape not in intent(request_text).shapes


def test_the_details_of_a_shape_come_with_it() -> None:
    decimals = next(a for a in intent("what is the mean? use 2 decimals").asks if a.shape is Shape.DECIMALS)
    assert (decimals.places, decimals.name) == (2, "2 decimals")
    assert next(a for a in intent("print the average with one decimal").asks if a.shape is Shape.DECIMALS).name == "one decimal"
    assert intent("sorted, largest first").asks[0].descending and not intent("sorted by name").asks[0].descending
    quoted = next(a for a in intent('show the lines with "Disk Full" or \'timeout\'').asks if a.shape is Shape.QUOTED)
    assert quoted.terms == ("disk full", "timeout")


def test_an_edit_is_told_from_a_question() -> None:
    assert intent("replace localhost with db.internal in database.yaml").wants_edit
    assert intent("sort words.txt in place").wants_edit
    assert not intent("print the lines of names.txt sorted").wants_edit
    assert wants_edit("create the directory out") and not wants_edit("which directories are empty?")


def test_only_the_count_is_asked_for() -> None:
    assert intent("how many lines does notes.txt have?").count_only
    assert intent("lines in notes.txt, print only the number").count_only
    assert intent("the word count only").count_only
    assert not intent("count the lines in notes.txt").count_only  # wc's own "3 notes.txt" may be wanted


def test_paths_without_dot_slash_and_relative_paths_are_two_different_readings() -> None:
    dropped = intent("list the files without the leading ./")
    assert dropped.no_dot_slash and Shape.RELATIVE_PATHS not in dropped.shapes
    loose = intent("list the markdown files, relative")  # any "relative" drops ./; only "relative to/paths" is checked
    assert loose.no_dot_slash and Shape.RELATIVE_PATHS not in loose.shapes
    both = intent("list the markdown files relative to the workspace")
    assert both.no_dot_slash and Shape.RELATIVE_PATHS in both.shapes
    assert not intent("list the markdown files").no_dot_slash


def test_the_numbers_a_request_gives_and_not_those_inside_names() -> None:
    assert intent("files bigger than 10 kilobytes changed in the last 7 days").numbers == {"10", "7"}
    assert intent("print lines 3 through 6 of notes2.txt in /data/2024, version v1.2").numbers == {"3", "6"}
    assert intent("the line numbered 12345678").numbers == frozenset()  # longer than six digits: an id, not a bound


def test_the_current_directory_and_the_paths_named_under_the_mount() -> None:
    assert intent("list empty directories in the current directory tree").current_dir
    assert intent("files in this folder").current_dir and not intent("files in the directory src").current_dir
    asked = intent("find the largest file in /testbed/media, or in /testbed.")
    assert asked.paths_under("/testbed") == ("/testbed/media", "/testbed")
    assert asked.paths_under("/workspace") == ()


def test_intent_is_one_frozen_value_read_once_per_request() -> None:
    asked = intent("how many lines are in poem.txt?")
    assert isinstance(asked, Intent) and intent("how many lines are in poem.txt?") is asked
    with pytest.raises(dataclasses.FrozenInstanceError):
        asked.count_only = False  # type: ignore[misc]
    assert intent("") == Intent("")


def test_shape_checks_carry_their_shape_and_are_compared_by_it() -> None:
    checks = checks_for("how many lines are in poem.txt? print it with one decimal")
    assert [c.shape for c in checks] == [Shape.NUMBER, Shape.DECIMALS]
    assert checks[0].shape is Shape.NUMBER and Shape.NUMBER != "a number"  # an Enum, not its display text
    # a zero is suspicious where a number is asked for, and only there
    assert "zero" in (result_problem("how many TODO comments are there?", "0\n") or "")
    assert result_problem("print the first line of counts.txt", "0\n") is None


def test_the_words_a_request_is_matched_on_leave_out_common_words() -> None:
    from babel.compiler.intent import content_words

    assert content_words("How many files are in the src dir? Print only the count, please.") == {"src", "dir", "count"}
    assert content_words("a b c") == set()  # single letters say nothing
