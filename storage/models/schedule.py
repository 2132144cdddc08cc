"""Columns shared by everything that happens on a calendar."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import Boolean, Date, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column


class ScheduleColumns:
    """A weekly schedule in each recipient's local time.

    `weekdays` is a comma-separated list of mon..sun; `every_weeks` thins it out
    (2 = fortnightly, counted from `start_date`).
    """

    weekdays: Mapped[str] = mapped_column(String(32), default="mon")
    local_time: Mapped[time] = mapped_column(Time(), default=time(8, 30))
    start_date: Mapped[date] = mapped_column(Date())
    end_date: Mapped[date | None] = mapped_column(Date(), nullable=True)
    every_weeks: Mapped[int] = mapped_column(Integer, default=1)
    skip_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
